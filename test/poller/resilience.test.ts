import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { failWrites } from '../helpers/failing-writes.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { createInstance, listEvents, pollNow, providerConnector, registerConnector } from './helpers.js';

const MINUTE = 60_000;

describe('polling: failures, back-off and scheduling', () => {
  let t: TestGateway;
  let provider: EmulatedProvider;
  const sleeps: number[] = [];

  beforeEach(async () => {
    sleeps.length = 0;
    t = await startGateway({
      config: { poller: { fullListingIntervalMinutes: 0 } },
      options: {
        sleep: async (ms) => void sleeps.push(ms),
      },
    });
    provider = await EmulatedProvider.start();
    provider.now = () => t.clock.now();
    const two = {
      contacts: {
        url: "/hubs/crm/contacts?where=updated_at>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSS'Z'}'",
        idField: 'id',
        deletes: true,
        pagination: { type: 'page', pageParam: 'page', sizeParam: 'per_page', size: 2 },
      },
      tickets: { url: "/tickets?updated_since=${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSS'Z'}", idField: 'id' },
    };
    await registerConnector(t, providerConnector('crm', { poller: two }));
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
  });

  async function status(id: number) {
    return (await t.api.get(`instances/${id}/status`)).body as unknown as {
      objects: Record<string, { lastError: string | null; nextPollDate: string; consecutiveFailures: number; events: Record<string, number>; node: string }>;
    };
  }

  it('re-polls after a failure between fetch and commit with no duplicate and no loss', async () => {
    const { id } = await createInstance(t, 'crm', provider.url);
    t.clock.advance(MINUTE);
    provider.collection('tickets').upsert({ subject: 'a' });
    provider.collection('tickets').upsert({ subject: 'b' });
    // The database refuses the poll's write transaction (its first event), as a crash before the commit would.
    const failing = await failWrites(t, { table: 'events', on: 'INSERT', when: "NEW.object_type = 'tickets'", message: 'injected failure before commit' });
    const crashed = await pollNow(t, id);
    await failing.clear();
    expect(crashed.tickets.error).to.match(/injected failure/);
    expect(await listEvents(t, id, '&objectType=tickets')).to.have.length(0);
    const st = await status(id);
    expect(st.objects.tickets.lastError).to.match(/injected failure/);

    t.clock.advance(MINUTE);
    provider.collection('tickets').upsert({ subject: 'c' });
    expect((await pollNow(t, id)).tickets).to.include({ created: 3 });
    t.clock.advance(MINUTE);
    expect((await pollNow(t, id)).tickets).to.include({ created: 0, updated: 0 });
    const events = await listEvents(t, id, '&objectType=tickets');
    expect(events.map((e) => e.objectId).sort()).to.deep.equal(['1', '2', '3']);
  });

  it('retries 429 (honouring Retry-After) and 5xx, and one failing object never blocks another', async () => {
    const { id } = await createInstance(t, 'crm', provider.url);
    t.clock.advance(MINUTE);
    provider.collection('tickets').upsert({ subject: 'a' });
    provider.collection('contacts').upsert({ name: 'x' });
    provider.failNext(1, { status: 429, headers: { 'retry-after': '7' }, body: {} }, { path: '/tickets' });
    provider.failNext(1, { status: 503, body: {} }, { path: '/tickets' });
    provider.failNext(3, { status: 500, body: {} }, { path: '/contacts' });
    const result = await pollNow(t, id);
    expect(result.tickets).to.include({ created: 1 });
    expect(sleeps).to.include(7000);
    expect(result.contacts.error).to.match(/HTTP 500 from the provider after 3 attempt/);

    const st = await status(id);
    expect(st.objects.tickets.lastError).to.equal(null);
    expect(st.objects.contacts.consecutiveFailures).to.equal(1);
    // The failing object backs off beyond its interval; the healthy one keeps its interval.
    expect(Date.parse(st.objects.contacts.nextPollDate)).to.be.greaterThan(Date.parse(st.objects.tickets.nextPollDate) - 1);
    t.clock.advance(MINUTE);
    expect((await pollNow(t, id)).contacts).to.include({ created: 1 });
    expect((await status(id)).objects.contacts.consecutiveFailures).to.equal(0);
  });

  it('the scheduler tick claims due objects once, with a lease, and plans the next poll', async () => {
    const { id } = await createInstance(t, 'crm', provider.url, { 'event.poller.refresh_interval': '2' });
    provider.collection('tickets');
    const poller = t.gateway.poller;
    expect(await poller.tick()).to.equal(0); // nothing due yet
    t.clock.advance(2 * MINUTE);
    provider.collection('tickets').upsert({ subject: 'due' });
    provider.delayNext(1, 150, { path: '/tickets' });
    expect(await poller.tick()).to.equal(2);
    // While those polls run, another tick (another node, in effect) claims nothing.
    expect(await poller.tick()).to.equal(0);
    await poller.idle();
    const st = await status(id);
    expect(st.objects.tickets.events.created).to.equal(1);
    expect(st.objects.tickets.node).to.equal(t.gateway.nodeId);
    expect(Date.parse(st.objects.tickets.nextPollDate)).to.equal(t.clock.now() + 2 * MINUTE);
  });

  it('an interval PATCH moves the next poll at once; pausing stops polling', async () => {
    const { id } = await createInstance(t, 'crm', provider.url, { 'event.poller.refresh_interval': '60' });
    const before = await status(id);
    expect(Date.parse(before.objects.tickets.nextPollDate)).to.equal(t.clock.now() + 60 * MINUTE);
    const patched = await t.api.patch(`instances/${id}`, { json: { configuration: { 'event.poller.refresh_interval': '1.5' } } });
    expect(patched.statusCode).to.equal(200);
    const after = await status(id);
    expect(Date.parse(after.objects.tickets.nextPollDate)).to.equal(t.clock.now() + 90_000);

    expect((await t.api.put(`instances/${id}/events/enabled`, { json: { enabled: false } })).statusCode).to.equal(200);
    t.clock.advance(10 * MINUTE);
    expect(await t.gateway.poller.tick()).to.equal(0);
    await t.api.put(`instances/${id}/events/enabled`, { json: { enabled: true } });
    expect(await t.gateway.poller.tick()).to.equal(2);
    await t.gateway.poller.idle();
  });
});
