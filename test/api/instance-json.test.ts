import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { createInstance, listEvents, pollNow, providerConnector, registerConnector } from '../poller/helpers.js';

const CONTACTS = "/hubs/crm/contacts?where=updated_at>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSS'Z'}'";

/** Cloud Elements' instance JSON taken as its documents write it. */
describe('Cloud Elements instance JSON', () => {
  let t: TestGateway;
  let provider: EmulatedProvider;

  beforeEach(async () => {
    t = await startGateway();
    provider = await EmulatedProvider.start();
    provider.now = () => t.clock.now();
    provider.requireHeader = { name: 'authorization', value: 'Bearer sk-test-secret-123' };
    // A record created a day before the instance.
    provider.collection('contacts').seed(1, () => ({ name: 'old' }), t.clock.now() - 86_400_000);
    await registerConnector(t, providerConnector('crm'));
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
  });

  it('merges an instance poller object with the connector object of the same name: an edited old record is UPDATED', async () => {
    // Cloud Elements' instance JSON shape: url and idField only; datesConfiguration comes from the connector.
    const pollerConfiguration = { contacts: { url: "/hubs/crm/contacts?where=updated_at>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSS'Z'}'", idField: 'id' } };
    const { id } = await createInstance(t, 'crm', provider.url, { 'event.poller.configuration': pollerConfiguration });
    t.clock.advance(60_000);
    provider.collection('contacts').update(1, { name: 'edited' });
    expect((await pollNow(t, id)).contacts).to.include({ created: 0, updated: 1 });
    expect((await listEvents(t, id)).map((e) => e.eventType)).to.deep.equal(['UPDATED']);
  });

  it('completes an object of another name from the connector object reading the same resource; the instance wins', async () => {
    const people = { url: "/hubs/crm/contacts?where=updated_at>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSS'Z'}'", idField: 'id' };
    const { id } = await createInstance(t, 'crm', provider.url, { 'event.poller.configuration': { people } });
    t.clock.advance(60_000);
    provider.collection('contacts').update(1, { name: 'edited' });
    expect((await pollNow(t, id)).people).to.include({ created: 0, updated: 1 });

    // What the instance gives wins as a whole: its datesConfiguration without a created date
    // cannot tell an old record from a new one, so the edited old record is CREATED there.
    const dates = { updatedDateField: 'updated_at', updatedDateFormat: "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'" };
    const own = await createInstance(t, 'crm', provider.url, { 'event.poller.configuration': { contacts: { ...people, datesConfiguration: dates } } });
    t.clock.advance(60_000);
    provider.collection('contacts').update(1, { name: 'edited again' });
    expect((await pollNow(t, own.id)).contacts).to.include({ created: 1, updated: 0 });
  });

  it('refuses unknown event.* keys naming the nearest known key, and takes eventNotificationCallbackUrl as an alias', async () => {
    const typo = await t.api.post('instances', {
      json: {
        element: { key: 'crm' },
        configuration: {
          base_url: provider.url,
          api_key: 'k',
          'event.notification.callback.urll': 'https://app.example.com/hook',
          'event.poller.refreshInterval': '5',
        },
      },
    });
    expect(typo.statusCode).to.equal(400);
    expect((typo.body as unknown as { details: unknown[] }).details).to.deep.equal([
      { field: 'event.notification.callback.urll', message: 'is not a configuration key pollgate knows; did you mean "event.notification.callback.url"?' },
      { field: 'event.poller.refreshInterval', message: 'is not a configuration key pollgate knows; did you mean "event.poller.refresh_interval"?' },
    ]);
    expect((await t.api.get('instances')).body).to.deep.equal([]);

    const alias = await createInstance(t, 'crm', provider.url, { eventNotificationCallbackUrl: 'https://app.example.com/hook' });
    const configuration = (alias as unknown as { configuration: Record<string, unknown> }).configuration;
    expect(configuration['event.notification.callback.url']).to.equal('https://app.example.com/hook');
    expect(configuration).not.to.have.property('eventNotificationCallbackUrl');
    const both = await t.api.patch(`instances/${alias.id}`, {
      json: { configuration: { eventNotificationCallbackUrl: 'https://a.example.com', 'event.notification.callback.url': 'https://b.example.com' } },
    });
    expect(both.statusCode).to.equal(400);
    expect((both.body as unknown as { details: Array<{ field: string }> }).details[0].field).to.equal('eventNotificationCallbackUrl');
    // Other keys (connector fields, oauth.*, anything outside event.*) are not the gateway's to refuse.
    const others = await t.api.patch(`instances/${alias.id}`, { json: { configuration: { 'oauth.callback.url': 'https://app.example.com/cb' } } });
    expect(others.statusCode, JSON.stringify(others.body)).to.equal(200);
  });

  it('names a missing required field once', async () => {
    const res = await t.api.post('instances', { json: { element: { key: 'crm' }, configuration: { base_url: provider.url } } });
    expect(res.statusCode).to.equal(400);
    expect((res.body as unknown as { details: unknown[] }).details).to.deep.equal([
      { field: 'configuration.api_key', message: 'is required by this connector' },
    ]);
  });

  it('requires the keys the provider address is built from, unless base.url replaces it, before any call', async () => {
    const sited = providerConnector('sited', {
      configuration: [{ key: 'site' }, { key: 'region' }, { key: 'api_key', required: true, secret: true }],
      baseUrl: 'https://<%= iparam.site %>.<%= iparam.region %>.example.com',
    });
    await registerConnector(t, sited);
    const create = (configuration: Record<string, unknown>) =>
      t.api.post('instances', { json: { element: { key: 'sited' }, configuration: { api_key: 'k', 'event.poller.refresh_interval': '5', ...configuration } } });
    const missing = await create({ region: ' ' });
    expect(missing.statusCode).to.equal(400);
    expect((missing.body as unknown as { details: unknown[] }).details).to.deep.equal([
      {
        field: 'configuration.site',
        message: "is required: the provider's address https://<%= iparam.site %>.<%= iparam.region %>.example.com is built from it (or give base.url)",
      },
      {
        field: 'configuration.region',
        message: "is required: the provider's address https://<%= iparam.site %>.<%= iparam.region %>.example.com is built from it (or give base.url)",
      },
    ]);
    expect((await create({ site: 'acme', region: 'eu' })).statusCode).to.equal(201);
    const replaced = await create({ 'base.url': provider.url });
    expect(replaced.statusCode, JSON.stringify(replaced.body)).to.equal(201);
    // A PATCH that empties one is refused the same way.
    const patched = await t.api.patch(`instances/${(replaced.body as unknown as { id: number }).id}`, {
      json: { configuration: { 'base.url': '', api_key: 'k' } },
    });
    expect(patched.statusCode).to.equal(400);
    expect((patched.body as unknown as { details: Array<{ field: string }> }).details.map((d) => d.field)).to.deep.equal([
      'configuration.site',
      'configuration.region',
    ]);
  });

  it("validates an instance's datesConfiguration as a connector's: date patterns, known keys, a format beside its field", async () => {
    const contacts = (datesConfiguration: unknown) => ({ 'event.poller.configuration': { contacts: { url: CONTACTS, idField: 'id', datesConfiguration } } });
    const refused = async (datesConfiguration: unknown) => {
      const res = await t.api.post('instances', {
        json: {
          element: { key: 'crm' },
          configuration: { base_url: provider.url, api_key: 'k', 'event.poller.refresh_interval': '5', ...contacts(datesConfiguration) },
        },
      });
      expect(res.statusCode, JSON.stringify(datesConfiguration)).to.equal(400);
      return (res.body as unknown as { details: Array<{ field: string; message: string }> }).details;
    };
    const at = 'event.poller.configuration.contacts.datesConfiguration';
    expect(await refused({ updatedDateField: 'updated_at', updatedDateFormat: 'qqq' })).to.deep.equal([
      {
        field: `${at}.updatedDateFormat`,
        message:
          'date pattern "qqq": the letter "q" is not supported (supported: y M d H h k K m s S a E z Z X, and quoted literals); or "epoch:s", "epoch:ms" ("milliseconds") for epoch times',
      },
    ]);
    expect(await refused({ updatedDateField: 'updated_at', updatedDateFromat: 'yyyy' })).to.deep.equal([
      {
        field: `${at}.updatedDateFromat`,
        message: 'is not a datesConfiguration field (its fields: updatedDateField, updatedDateFormat, createdDateField, createdDateFormat)',
      },
    ]);
    expect(await refused({ createdDateFormat: 'milliseconds' })).to.deep.equal([
      { field: `${at}.createdDateField`, message: 'is required with createdDateFormat' },
    ]);
    expect(await refused({ updatedDateField: 7 })).to.deep.equal([{ field: `${at}.updatedDateField`, message: 'must be a non-empty string' }]);
    expect(await refused('updated_at')).to.deep.equal([
      { field: at, message: 'must be an object with updatedDateField, updatedDateFormat, createdDateField, createdDateFormat' },
    ]);
    expect((await t.api.get('instances')).body).to.deep.equal([]);
  });

  it('reads epoch dates with Cloud Elements\' "milliseconds" format: an edited old record is UPDATED, dated by its update', async () => {
    const ms = { updatedDateField: 'updated_ms', updatedDateFormat: 'milliseconds', createdDateField: 'created_ms', createdDateFormat: 'milliseconds' };
    const { id } = await createInstance(t, 'crm', provider.url, {
      'event.poller.configuration': { contacts: { url: CONTACTS, idField: 'id', datesConfiguration: ms } },
    });
    t.clock.advance(60_000);
    const edited = t.clock.now();
    provider.collection('contacts').update(1, { name: 'edited', created_ms: String(edited - 86_400_000), updated_ms: String(edited) });
    expect((await pollNow(t, id)).contacts).to.include({ created: 0, updated: 1 });
    const [event] = (await listEvents(t, id)) as unknown as Array<{ eventType: string; date: string }>;
    expect(event).to.include({ eventType: 'UPDATED', date: new Date(edited).toISOString() });
  });
});
