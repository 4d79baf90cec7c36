import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider, type CannedResponse } from '../../sandbox/provider-server.js';
import { CONTACTS_SINCE, PROVIDER_DATES, createInstance, listEvents, pollNow, providerConnector, registerConnector } from './helpers.js';

/**
 * An answer that is not a listing — a redirect, an empty body, HTML, JSON without the records where
 * the connector says they are — is a failed page, not an empty listing: the poll fails with the reason
 * in the object's status, the watermark stays, and a full listing sweeps nothing. A listing that is
 * empty (`[]`, `{"data": []}`) is still an empty listing.
 */
const MINUTE = 60_000;

describe('polling: answers that are not listings', () => {
  let provider: EmulatedProvider;
  let t: TestGateway;

  beforeEach(async () => {
    provider = await EmulatedProvider.start();
    // Every poll after the first is a full listing.
    t = await startGateway({ config: { poller: { fullListingIntervalMinutes: 0 } } });
    provider.now = () => t.clock.now();
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
  });

  const objectState = async (id: number, objectType: string) => {
    const rows = await t.gateway.ctx.stores.pollState.objectsOf(id);
    const row = rows.find((r) => r.object_type === objectType)!;
    return { watermark: Number(row.watermark), lastError: row.last_error, failures: row.failures };
  };

  it('a full listing answered by a redirect, an empty body, HTML or JSON without records fails: watermark kept, nothing deleted; the next good listing raises nothing', async () => {
    await registerConnector(
      t,
      providerConnector('crm', { poller: { contacts: { url: CONTACTS_SINCE, idField: 'id', datesConfiguration: PROVIDER_DATES, deletes: true } } }),
    );
    const { id } = await createInstance(t, 'crm', provider.url);
    t.clock.advance(MINUTE);
    for (const name of ['Ada', 'Grace', 'Edsger']) provider.collection('contacts').upsert({ name });
    expect((await pollNow(t, id)).contacts).to.include({ fetched: 3, created: 3, deleted: 0 });
    t.clock.advance(MINUTE);
    expect((await pollNow(t, id)).contacts).to.include({ fetched: 3, created: 0, deleted: 0 });
    const before = await objectState(id, 'contacts');

    const answers: Array<{ answer: CannedResponse; error: string }> = [
      {
        answer: { status: 302, headers: { location: `${provider.url}/login?session=s3cr3t` }, body: '' },
        error: `HTTP 302 from the provider after 1 attempt(s): a redirect to ${provider.url}/login (redirects are not followed), not a listing`,
      },
      { answer: { status: 200, body: '' }, error: 'HTTP 200 from the provider after 1 attempt(s): an empty body, not a listing' },
      {
        answer: { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: '<html><body>Maintenance</body></html>' },
        error: 'HTTP 200 from the provider after 1 attempt(s): a body that is not JSON (text/html), not a listing',
      },
      {
        answer: { status: 200, body: { message: 'try again later' } },
        error: 'HTTP 200 from the provider after 1 attempt(s): neither a JSON array nor an object with an array field, not a listing',
      },
      { answer: { status: 301, body: '' }, error: 'HTTP 301 from the provider after 1 attempt(s): a redirect (redirects are not followed), not a listing' },
    ];
    for (const [i, { answer, error }] of answers.entries()) {
      provider.failNext(1, answer, { path: '/contacts' });
      t.clock.advance(MINUTE);
      const requests = provider.requests.length;
      expect((await pollNow(t, id)).contacts, `answer ${i + 1}`).to.include({ fetched: 0, deleted: 0, error });
      // One request: the answer was not retried, and the redirect not followed.
      expect(provider.requests.length - requests).to.equal(1);
      expect(await objectState(id, 'contacts')).to.deep.equal({ watermark: before.watermark, lastError: error, failures: i + 1 });
    }
    const status = (await t.api.get(`instances/${id}/status`)).body as unknown as {
      objects: Record<string, { lastError: string; consecutiveFailures: number }>;
    };
    expect(status.objects.contacts).to.include({ consecutiveFailures: answers.length, lastError: answers.at(-1)!.error });

    t.clock.advance(MINUTE);
    expect((await pollNow(t, id)).contacts).to.deep.equal({ fetched: 3, created: 0, updated: 0, deleted: 0 });
    t.clock.advance(MINUTE);
    expect((await pollNow(t, id)).contacts).to.deep.equal({ fetched: 3, created: 0, updated: 0, deleted: 0 });
    const after = await objectState(id, 'contacts');
    expect(after).to.include({ lastError: null, failures: 0 });
    expect(after.watermark).to.be.above(before.watermark);
    const events = await listEvents(t, id);
    expect(events.map((e) => e.eventType)).to.deep.equal(['CREATED', 'CREATED', 'CREATED']);
  });

  it('with a recordsPath: a page without that place fails, one with an empty array there is an empty listing', async () => {
    provider.collection('items').style = 'cursor';
    await registerConnector(
      t,
      providerConnector('feed', {
        poller: {
          items: {
            url: "/items?updated_since=${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSS'Z'}",
            idField: 'id',
            recordsPath: '$.data[*]',
            pagination: { type: 'cursor', cursorPath: '$.next_cursor', cursorParam: 'cursor' },
          },
        },
      }),
    );
    const { id } = await createInstance(t, 'feed', provider.url);
    t.clock.advance(MINUTE);
    // The provider's own empty listing: {"data": [], "next_cursor": null}.
    expect((await pollNow(t, id)).items).to.deep.equal({ fetched: 0, created: 0, updated: 0, deleted: 0 });
    const listed = await objectState(id, 'items');
    expect(listed).to.deep.equal({ watermark: t.clock.now(), lastError: null, failures: 0 });

    for (const body of [{ next_cursor: null }, { data: null }, { error: { data: [] } }, [], null]) {
      provider.failNext(1, { status: 200, body }, { path: '/items' });
      t.clock.advance(MINUTE);
      expect((await pollNow(t, id)).items.error, JSON.stringify(body)).to.equal(
        "HTTP 200 from the provider after 1 attempt(s): no records at $.data[*], the connector's recordsPath, not a listing",
      );
      expect((await objectState(id, 'items')).watermark).to.equal(listed.watermark);
    }

    provider.collection('items').upsert({ name: 'one' });
    t.clock.advance(MINUTE);
    expect((await pollNow(t, id)).items).to.deep.equal({ fetched: 1, created: 1, updated: 0, deleted: 0 });
  });

  it('without a recordsPath, an empty array is an empty listing that moves the watermark', async () => {
    await registerConnector(t, providerConnector('crm'));
    provider.collection('contacts');
    const { id } = await createInstance(t, 'crm', provider.url);
    t.clock.advance(MINUTE);
    expect((await pollNow(t, id)).contacts).to.deep.equal({ fetched: 0, created: 0, updated: 0, deleted: 0 });
    expect(await objectState(id, 'contacts')).to.deep.equal({ watermark: t.clock.now(), lastError: null, failures: 0 });
  });
});
