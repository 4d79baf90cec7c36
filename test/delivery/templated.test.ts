import { expect } from 'chai';
import { XMLParser } from 'fast-xml-parser';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { Receiver } from '../providers/receiver.js';
import { createInstance, pollNow, providerConnector, registerConnector } from '../poller/helpers.js';
import { dispatcher } from './helpers.js';
import { Webhook } from 'standardwebhooks';

describe('templated callbacks', () => {
  let t: TestGateway;
  let provider: EmulatedProvider;
  let receiver: Receiver;

  beforeEach(async () => {
    t = await startGateway();
    provider = await EmulatedProvider.start();
    provider.now = () => t.clock.now();
    receiver = await Receiver.start();
    await registerConnector(t, providerConnector('crm'));
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
    await receiver.close();
  });

  async function run(format: 'json' | 'xml' | 'form', template: string, extra: Record<string, unknown> = {}) {
    const { id } = await createInstance(t, 'crm', provider.url, {
      'event.notification.callback.url': `${receiver.url}/objects/<%= event.objectType %>/<%= event.objectId %>`,
      'event.notification.callback.format': format,
      'event.notification.callback.template': template,
      ...extra,
    });
    t.clock.advance(60_000);
    provider.collection('contacts').upsert({ name: 'Ada "the first"', address: { city: 'London' }, phones: [{ kind: 'home', number: '+44 1' }] });
    provider.collection('contacts').upsert({ name: 'Grace', address: { city: 'Arlington' }, phones: [] });
    await pollNow(t, id);
    await dispatcher(t).drain();
    return { id, requests: await receiver.waitFor(2) };
  }

  it('sends one JSON request per event with tags in the body and the URL, and stores the response mapping', async () => {
    receiver.defaultBody = { ticket: { id: 'T-9' }, ok: true };
    const { id, requests } = await run(
      'json',
      '{"ref": "<%= event.objectId %>", "kind": "<%= event.eventType %>", "who": "<%= raw.name %>", "city": "<%= raw.address.city %>", "phone": "<%= raw.phones[0].number %>", "by": "<%= instance.name %>"}',
      {
        'event.notification.callback.responseMapping': { ticketId: '$.ticket.id' },
      },
    );
    expect(requests.map((r) => r.path)).to.deep.equal(['/objects/contacts/1', '/objects/contacts/2']);
    expect(requests[0].body).to.deep.equal({ ref: '1', kind: 'CREATED', who: 'Ada "the first"', city: 'London', phone: '+44 1', by: 'crm test' });
    expect(requests[1].body).to.deep.include({ ref: '2', city: 'Arlington', phone: '' });
    const [n] = await t.gateway.db('notifications').select('id');
    // One webhook-id per event: a receiver deduping on it keeps both.
    expect(requests.map((r) => r.headers['webhook-id'])).to.deep.equal([`${n.id}.1`, `${n.id}.2`]);
    const { secret } = (await t.api.get(`instances/${id}/signing-secret`)).body as unknown as { secret: string };
    for (const r of requests) {
      const ts = new Date(Number(r.headers['webhook-timestamp']) * 1000);
      expect(r.headers['webhook-signature']).to.equal(new Webhook(secret).sign(String(r.headers['webhook-id']), ts, r.raw.toString()));
    }
    const notification = (await t.api.get(`notifications/${n.id}`)).body as unknown as { status: string; responseData: unknown };
    expect(notification).to.deep.include({ status: 'delivered', responseData: { ticketId: 'T-9' } });
  });

  it('a retry sends only the events the receiver has not accepted, with the same webhook-ids', async () => {
    receiver.respondWith({ status: 200 }, { status: 500 });
    const { requests } = await run('json', '{"ref": "<%= event.objectId %>"}');
    const [n] = await t.gateway.db('notifications').select('id');
    expect(requests.map((r) => r.headers['webhook-id'])).to.deep.equal([`${n.id}.1`, `${n.id}.2`]);
    const after = (await t.api.get(`notifications/${n.id}`)).body as unknown as { status: string; attemptCount: number };
    expect(after).to.include({ status: 'pending', attemptCount: 1 });

    t.clock.advance(10_000);
    await dispatcher(t).drain();
    const [, , third] = await receiver.waitFor(3);
    expect(receiver.received).to.have.length(3);
    expect(third.headers['webhook-id']).to.equal(`${n.id}.2`);
    expect(third.body).to.deep.equal({ ref: '2' });
    expect(((await t.api.get(`notifications/${n.id}`)).body as unknown as { status: string }).status).to.equal('delivered');

    // A replay of a delivered notification sends every event again.
    await t.api.post(`notifications/${n.id}/retry`);
    await dispatcher(t).drain();
    expect(receiver.received.slice(3).map((r) => r.headers['webhook-id'])).to.deep.equal([`${n.id}.1`, `${n.id}.2`]);
  });

  it('renders XML and form templates with the right escaping', async () => {
    const xml = await run('xml', '<contact id="<%= event.objectId %>"><name><%= raw.name %></name></contact>');
    const parsed = new XMLParser({ ignoreAttributes: false }).parse(xml.requests[0].raw.toString());
    expect(parsed.contact).to.deep.include({ '@_id': '1', name: 'Ada "the first"' });
    receiver.received.length = 0;
    await t.gateway.db('notifications').delete();
    const form = await run('form', 'id=<%= event.objectId %>&name=<%= raw.name %>&type=<%= event.eventType %>');
    // The second instance sees the next two records (ids 3 and 4).
    expect(form.requests.map((r) => r.body)).to.deep.include({ id: '3', name: 'Ada "the first"', type: 'CREATED' });
  });

  it('refuses a template that references unknown tags', async () => {
    const res = await t.api.post('instances', {
      json: {
        element: { key: 'crm' },
        configuration: {
          base_url: provider.url,
          api_key: 'k',
          'event.notification.callback.url': `${receiver.url}/x`,
          'event.notification.callback.template': '{"a": "<%= event.secretThing %>"}',
        },
      },
    });
    expect(res.statusCode).to.equal(400);
    expect(JSON.stringify(res.body)).to.include('unknown tag \\"<%= event.secretThing %>\\"');
  });
});
