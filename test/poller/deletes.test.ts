import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { failWrites } from '../helpers/failing-writes.js';
import { EmulatedProvider, type CannedResponse } from '../../sandbox/provider-server.js';
import { listRecords } from '../../sandbox/listing.js';
import { CONTACTS_SINCE, PROVIDER_DATES, createInstance, listEvents, pollNow, providerConnector, registerConnector } from './helpers.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const pages = (size: number) => ({ type: 'page', pageParam: 'page', sizeParam: 'per_page', size });

/** Every poll after the first is a full listing (`fullListingIntervalMinutes: 0`). */
describe('polling: delete detection by full listings', () => {
  let t: TestGateway;
  let provider: EmulatedProvider;

  beforeEach(async () => {
    t = await startGateway({ config: { poller: { fullListingIntervalMinutes: 0 } } });
    provider = await EmulatedProvider.start();
    provider.now = () => t.clock.now();
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
  });

  async function connector(poller: Record<string, unknown>) {
    await registerConnector(t, providerConnector('crm', { poller: { contacts: { idField: 'id', deletes: true, pagination: pages(2), ...poller } } }));
  }

  /** Polls `n` times a minute apart; returns every poll's contacts summary. */
  async function polls(id: number, n: number) {
    const out = [];
    for (let i = 0; i < n; i++) {
      t.clock.advance(MINUTE);
      out.push((await pollNow(t, id)).contacts);
    }
    return out;
  }

  /** GET /contacts as the provider serves it, after `before(page)`, which may answer instead. */
  function serveContacts(before: (page: string | undefined) => CannedResponse | undefined) {
    provider.route('GET', '/contacts', (req) => {
      const instead = before(req.query.page);
      if (instead) return instead;
      const url = new URL(req.path, provider.url);
      for (const [k, v] of Object.entries(req.query)) url.searchParams.set(k, v);
      return listRecords(provider.collection('contacts'), url);
    });
  }

  const events = async (id: number) => (await listEvents(t, id)).map((e) => `${e.eventType} ${e.objectId}`).sort();

  it('old records raise nothing from full listings, with dates; records changed since the instance was created do', async () => {
    await connector({ url: CONTACTS_SINCE, datesConfiguration: PROVIDER_DATES });
    const c = provider.collection('contacts');
    for (let i = 0; i < 7; i++) c.upsert({ name: `old ${i}` }, t.clock.now() - DAY);
    const { id } = await createInstance(t, 'crm', provider.url);
    // The first poll asks for changes since the instance was created; the next two list everything.
    const [first, full1, full2] = await polls(id, 3);
    expect(first).to.include({ fetched: 0, created: 0 });
    expect(full1).to.include({ fetched: 7, created: 0, updated: 0, deleted: 0 });
    expect(full2).to.include({ fetched: 7, created: 0, updated: 0, deleted: 0 });
    expect(await events(id)).to.deep.equal([]);

    // Changes after the creation are events even when a full listing is the first to see them.
    c.upsert({ name: 'new' });
    c.update(3, { name: 'edited' });
    c.upsert({ id: 50, name: 'imported, old' }, t.clock.now() - 2 * DAY);
    const [full3] = await polls(id, 1);
    expect(full3).to.include({ fetched: 9, created: 1, updated: 1, deleted: 0 });
    expect(await events(id)).to.deep.equal(['CREATED 8', 'UPDATED 3']);
  });

  it('without dates, the first complete listing is a silent baseline and later ones raise what is new', async () => {
    // A date filter in the URL, but no dates read from the records.
    await connector({ url: CONTACTS_SINCE });
    const c = provider.collection('contacts');
    for (let i = 0; i < 7; i++) c.upsert({ name: `old ${i}` }, t.clock.now() - DAY);
    const { id } = await createInstance(t, 'crm', provider.url);
    const summaries = await polls(id, 3);
    expect(summaries.map((s) => s.fetched)).to.deep.equal([0, 7, 7]);
    expect(summaries.map((s) => s.created + s.updated + s.deleted)).to.deep.equal([0, 0, 0]);
    c.upsert({ name: 'new' });
    expect((await polls(id, 1))[0]).to.include({ created: 1 });
    expect(await events(id)).to.deep.equal(['CREATED 8']);
  });

  it('raises DELETED only after two complete listings miss a record, once; failed or cut listings delete nothing', async () => {
    await connector({ url: CONTACTS_SINCE, datesConfiguration: PROVIDER_DATES });
    const c = provider.collection('contacts');
    let failPage2 = false;
    serveContacts((page) => (failPage2 && page === '2' ? { status: 500, body: { error: 'boom' } } : undefined));
    const { id } = await createInstance(t, 'crm', provider.url);
    t.clock.advance(MINUTE);
    for (let i = 0; i < 5; i++) c.upsert({ name: `c${i}` });
    expect((await polls(id, 2)).map((s) => s.created)).to.deep.equal([5, 0]); // poll, then full listing 1

    c.remove(2);
    c.remove(4);
    // Full listings failing on their second page (after three attempts) delete nothing.
    failPage2 = true;
    for (const failed of await polls(id, 2)) {
      expect(failed.error).to.match(/HTTP 500/);
      expect(failed.deleted).to.equal(0);
    }
    failPage2 = false;
    // Complete listing 2 misses them once: not yet deleted (they may be back next time).
    const [missedOnce, missedTwice, after] = await polls(id, 3);
    expect(missedOnce.deleted).to.equal(0);
    expect(missedTwice.deleted).to.equal(2);
    expect(after.deleted).to.equal(0);
    expect(await events(id)).to.deep.equal(['CREATED 1', 'CREATED 2', 'CREATED 3', 'CREATED 4', 'CREATED 5', 'DELETED 2', 'DELETED 4']);
    const deleted = await listEvents(t, id, '&eventType=DELETED');
    expect(deleted[0].raw).to.deep.equal({ id: deleted[0].objectId });

    // A listing cut short by maxPages never deletes, however often it runs.
    c.remove(5);
    await t.api.patch(`instances/${id}`, {
      json: {
        configuration: {
          'event.poller.configuration': {
            contacts: { url: CONTACTS_SINCE, idField: 'id', deletes: true, datesConfiguration: PROVIDER_DATES, pagination: { ...pages(1), maxPages: 1 } },
          },
        },
      },
    });
    expect((await polls(id, 3)).map((s) => s.deleted)).to.deep.equal([0, 0, 0]);
  });

  it('a record listed twice across pages or dropped from one listing does not flap', async () => {
    await connector({ url: CONTACTS_SINCE, datesConfiguration: PROVIDER_DATES });
    const c = provider.collection('contacts');
    let beforePage2: (() => void) | undefined;
    serveContacts((page) => {
      if (page === '2' && beforePage2) {
        beforePage2();
        beforePage2 = undefined;
      }
      return undefined;
    });
    const { id } = await createInstance(t, 'crm', provider.url);
    t.clock.advance(MINUTE);
    for (let i = 0; i < 6; i++) c.upsert({ name: `c${i}` });
    await polls(id, 2); // CREATED 1–6, then the first complete listing

    // Record 1 changes while the listing is between pages 1 and 2: it moves to the end, so it is
    // listed twice, and record 3 slides onto page 1, already read — missing from this listing.
    beforePage2 = () => c.update(1, { name: 'moved' });
    const [moved, next] = await polls(id, 2);
    expect(moved).to.include({ fetched: 6, created: 0, updated: 1, deleted: 0 });
    expect(next).to.include({ created: 0, updated: 0, deleted: 0 });

    // Record 5 is missing from one listing only (eventual consistency): nothing is raised.
    const five = c.get(5)!;
    c.remove(5);
    const [dropped] = await polls(id, 1);
    c.upsert({ ...five }, Date.parse(five.updated_at)); // back, exactly as it was
    expect(dropped).to.include({ fetched: 5, deleted: 0 });
    expect((await polls(id, 2)).map((s) => s.created + s.updated + s.deleted)).to.deep.equal([0, 0]);
    expect((await listEvents(t, id)).filter((e) => e.eventType !== 'CREATED').map((e) => `${e.eventType} ${e.objectId}`)).to.deep.equal(['UPDATED 1']);
  });

  it('a record the provider flagged deleted is raised once, not again when the listings stop showing it', async () => {
    await connector({ url: CONTACTS_SINCE, datesConfiguration: PROVIDER_DATES, deletedWhen: { path: '$.status', equals: 'deleted' } });
    const c = provider.collection('contacts');
    const { id } = await createInstance(t, 'crm', provider.url);
    t.clock.advance(MINUTE);
    c.upsert({ name: 'kept', status: 'open' });
    c.upsert({ name: 'binned', status: 'open' });
    await polls(id, 2); // CREATED 1 and 2, then the first complete listing
    c.update(2, { status: 'deleted' });
    expect((await polls(id, 1))[0]).to.include({ deleted: 1, updated: 0 });
    c.remove(2); // purged from the bin
    expect((await polls(id, 3)).map((s) => s.deleted)).to.deep.equal([0, 0, 0]);
    expect(await events(id)).to.deep.equal(['CREATED 1', 'CREATED 2', 'DELETED 2']);
  });

  it('a crash between two batches of a listing leaves no half state', async () => {
    await connector({ url: CONTACTS_SINCE, datesConfiguration: PROVIDER_DATES, pagination: pages(500) });
    const c = provider.collection('contacts');
    c.seed(2500, (i) => ({ name: `old ${i}` }), t.clock.now() - DAY);
    const { id } = await createInstance(t, 'crm', provider.url);
    const [, baseline] = await polls(id, 2);
    expect(baseline).to.include({ fetched: 2500, created: 0, deleted: 0 });
    expect(await listEvents(t, id)).to.have.length(0);

    for (let i = 1; i <= 10; i++) c.remove(i * 200);
    c.update(7, { name: 'edited' }); // moves to the end of the listing: the last batch
    // The listing writes three batches (≥ 1000 records each but the last); crash on the second: the
    // database refuses its transaction when it marks record 1500 as listed.
    const failing = await failWrites(t, { table: 'snapshots', on: 'UPDATE', when: "NEW.object_id = '1500'", message: 'injected crash before commit' });
    const crashed = await pollNow(t, id);
    await failing.clear();
    // The error names the refused statement first (the database's message follows, cut to length).
    expect(crashed.contacts.error).to.match(/^update .snapshots. set .listed_generation/);
    expect(await listEvents(t, id)).to.have.length(0);

    const [missedOnce, missedTwice] = await polls(id, 2);
    expect(missedOnce).to.include({ fetched: 2490, updated: 1, deleted: 0 });
    expect(missedTwice).to.include({ updated: 0, deleted: 10 });
    expect(await events(id)).to.deep.equal(['UPDATED 7', ...[1000, 1200, 1400, 1600, 1800, 200, 2000, 400, 600, 800].map((n) => `DELETED ${n}`)].sort());
  });
});
