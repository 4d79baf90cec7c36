import { expect } from 'chai';
import { InstanceGoneError } from '../../src/db/instance-guard.js';
import type { UnitOfWork } from '../../src/stores.js';
import { startGateway, usePostgres, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider, type Style } from '../../sandbox/provider-server.js';
import { createInstance, listEvents, pollNow, providerConnector, registerConnector } from './helpers.js';

const MINUTE = 60_000;

/** What a promise was rejected with (null when it resolved). */
const rejection = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e,
  );

/** One CREATED event of instance `id`, with its notification, in the unit of work `uow`. */
const recordOne = (uow: UnitOfWork, id: number) =>
  uow.events.recordEvents(
    { id, name: 'x', elementKey: 'crm' },
    [{ eventType: 'CREATED', objectType: 'contacts', objectId: '1', date: new Date(0).toISOString(), raw: {} }],
    { source: 'polling', now: 0, notify: true, maxPerNotification: 10 },
  );

describe('polling: change detection end to end', () => {
  let t: TestGateway;
  let provider: EmulatedProvider;

  beforeEach(async () => {
    t = await startGateway();
    provider = await EmulatedProvider.start();
    provider.now = () => t.clock.now();
    provider.requireHeader = { name: 'authorization', value: 'Bearer sk-test-secret-123' };
    // Records that exist long before the instance.
    provider.collection('contacts').seed(5, (i) => ({ name: `old ${i}` }), t.clock.now() - 86_400_000);
    await registerConnector(t, providerConnector('crm'));
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
  });

  it('raises nothing for older records, CREATED for a new one, UPDATED for a change, nothing for the unchanged', async () => {
    const { id } = await createInstance(t, 'crm', provider.url);
    t.clock.advance(MINUTE);
    expect(await pollNow(t, id)).to.deep.equal({ contacts: { fetched: 0, created: 0, updated: 0, deleted: 0 } });

    t.clock.advance(MINUTE);
    const created = provider.collection('contacts').upsert({ name: 'new' });
    const first = await pollNow(t, id);
    expect(first.contacts).to.include({ created: 1, updated: 0 });

    t.clock.advance(10_000);
    provider.collection('contacts').update(created.id, { name: 'renamed' });
    provider.collection('contacts').update(1, { name: 'old but edited' });
    const second = await pollNow(t, id);
    // The new record was edited, and an old one edited after the instance existed: both UPDATED.
    expect(second.contacts).to.include({ created: 0, updated: 2 });

    // Within the overlap window the same records come back unchanged: nothing.
    t.clock.advance(10_000);
    const third = await pollNow(t, id);
    expect(third.contacts.fetched).to.be.greaterThan(0);
    expect(third.contacts).to.include({ created: 0, updated: 0, deleted: 0 });

    const events = await listEvents(t, id);
    // Newest first; within one poll the provider's order (updated_at, then id) gives the sequence.
    expect(events.map((e) => [e.eventType, e.objectId])).to.deep.equal([
      ['UPDATED', String(created.id)],
      ['UPDATED', '1'],
      ['CREATED', String(created.id)],
    ]);
    expect(events.map((e) => e.sequence)).to.deep.equal([3, 2, 1]);
    expect(events[0].raw).to.include({ name: 'renamed' });
    expect(events.every((e) => e.objectType === 'contacts')).to.equal(true);
  });

  it('turns the CEQL where into the provider query and sends the connector auth', async () => {
    const { id } = await createInstance(t, 'crm', provider.url);
    const createdAt = t.clock.now();
    t.clock.advance(5 * MINUTE);
    provider.clearRequests();
    await pollNow(t, id);
    expect(provider.requests).to.have.length(1);
    const req = provider.requests[0];
    expect(req.path).to.equal('/contacts');
    expect(req.query).to.deep.equal({ updated_since: new Date(createdAt).toISOString(), page: '1', per_page: '100' });
    expect(req.headers.authorization).to.equal('Bearer sk-test-secret-123');

    // Second poll: since = previous start minus the 60 s overlap.
    const previousStart = t.clock.now();
    t.clock.advance(5 * MINUTE);
    provider.clearRequests();
    await pollNow(t, id);
    expect(provider.requests[0].query.updated_since).to.equal(new Date(previousStart - MINUTE).toISOString());
  });

  it('renders ${date:…} in the instance time zone and ${epoch:s} in provider paths', async () => {
    await registerConnector(
      t,
      providerConnector('crm2', {
        poller: { contacts: { url: "/contacts?updated_since=${epoch:s}&x=${date:yyyy-MM-dd'T'HH:mm:ssXXX}", idField: 'id' } },
      }),
    );
    const { id } = await createInstance(t, 'crm2', provider.url, { 'event.poller.timezone': 'America/New_York' });
    const createdAt = t.clock.now();
    t.clock.advance(MINUTE);
    provider.clearRequests();
    await pollNow(t, id);
    expect(provider.requests[0].query.updated_since).to.equal(String(Math.floor(createdAt / 1000)));
    expect(provider.requests[0].query.x).to.equal('2026-11-24T05:00:00-05:00');
  });

  const styles: Array<{ style: Style; pagination: Record<string, unknown>; recordsPath?: string }> = [
    { style: 'page', pagination: { type: 'page', pageParam: 'page', sizeParam: 'per_page', size: 2 } },
    { style: 'offset', pagination: { type: 'offset', offsetParam: 'offset', sizeParam: 'limit', size: 2 } },
    { style: 'cursor', pagination: { type: 'cursor', cursorPath: '$.next_cursor', cursorParam: 'cursor', sizeParam: 'limit', size: 2 }, recordsPath: '$.data' },
    { style: 'link', pagination: { type: 'link' } },
    { style: 'hal', pagination: { type: 'link', nextUrlPath: '$._links.next.href' }, recordsPath: '$._embedded.items[*]' },
  ];
  for (const { style, pagination, recordsPath } of styles) {
    it(`reads all 3 pages with ${style} pagination`, async () => {
      const c = provider.collection('items');
      c.style = style;
      c.defaultPageSize = 2;
      await registerConnector(
        t,
        providerConnector(`p-${style}`, {
          poller: {
            items: { url: "/items?updated_since=${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSS'Z'}", idField: 'id', pagination, ...(recordsPath ? { recordsPath } : {}) },
          },
        }),
      );
      const { id } = await createInstance(t, `p-${style}`, provider.url);
      t.clock.advance(MINUTE);
      for (let i = 0; i < 6; i++) c.upsert({ name: `item ${i}` });
      provider.clearRequests();
      const summary = await pollNow(t, id);
      expect(summary.items).to.include({ fetched: 6, created: 6 });
      expect(provider.requests.filter((r) => r.path === '/items')).to.have.length(style === 'page' || style === 'offset' ? 4 : 3);
      expect((await listEvents(t, id)).map((e) => e.objectId).sort()).to.deep.equal(['1', '2', '3', '4', '5', '6']);
    });
  }

  it('reads records and ids by path: recordsPath and a dotted idField', async () => {
    provider.route('GET', '/nested', () => ({
      status: 200,
      body: {
        result: {
          rows: [
            { ref: { id: 'a-1' }, v: 1 },
            { ref: { id: 'a-2' }, v: 2 },
          ],
        },
      },
    }));
    await registerConnector(
      t,
      providerConnector('nested', {
        poller: { things: { url: '/nested', idField: 'ref.id', recordsPath: '$.result.rows[*]' } },
      }),
    );
    const { id } = await createInstance(t, 'nested', provider.url);
    // Without dates anywhere, the first listing is the baseline.
    expect((await pollNow(t, id)).things).to.include({ fetched: 2, created: 0 });
    provider.route('GET', '/nested', () => ({
      status: 200,
      body: {
        result: {
          rows: [
            { ref: { id: 'a-1' }, v: 1 },
            { ref: { id: 'a-2' }, v: 3 },
            { ref: { id: 'a-3' }, v: 1 },
          ],
        },
      },
    }));
    expect((await pollNow(t, id)).things).to.include({ fetched: 3, created: 1, updated: 1 });
    expect((await listEvents(t, id)).map((e) => [e.eventType, e.objectId])).to.deep.equal([
      ['CREATED', 'a-3'],
      ['UPDATED', 'a-2'],
    ]);
  });

  // Events and snapshots have no foreign key to instances (migration 012): deleting an instance
  // removes them by hand, and a write for an instance deleted meanwhile is refused.
  describe('removing an instance: its events and snapshots go with it', () => {
    const count = async (table: string, instanceId: number) => Number((await t.gateway.db(table).where({ instance_id: instanceId }).count({ n: '*' }))[0].n);

    it('DELETE removes the instance’s events and snapshots and leaves another instance’s', async () => {
      const gone = await createInstance(t, 'crm', provider.url);
      const kept = await createInstance(t, 'crm', provider.url);
      t.clock.advance(MINUTE);
      provider.collection('contacts').upsert({ name: 'a' });
      provider.collection('contacts').upsert({ name: 'b' });
      expect((await pollNow(t, gone.id)).contacts).to.include({ created: 2 });
      expect((await pollNow(t, kept.id)).contacts).to.include({ created: 2 });

      expect((await t.api.delete(`instances/${gone.id}`)).statusCode).to.equal(200);
      for (const table of ['events', 'snapshots']) {
        expect(await count(table, gone.id), table).to.equal(0);
        expect(await count(table, kept.id), table).to.equal(2);
      }
    });

    it('refuses to write events or snapshots for an instance deleted meanwhile, and writes nothing', async () => {
      const { id } = await createInstance(t, 'crm', provider.url);
      expect((await t.api.delete(`instances/${id}`)).statusCode).to.equal(200);
      const write = t.gateway.ctx.stores.transaction((uow) => recordOne(uow, id));
      expect(await rejection(write)).to.be.instanceOf(InstanceGoneError);
      const upsert = t.gateway.ctx.stores.transaction((uow) =>
        uow.snapshots.upsert({ instanceId: id, objectType: 'contacts' }, [{ id: '1', hash: 'h', deleted: false }], 0, 0),
      );
      expect(await rejection(upsert)).to.be.instanceOf(InstanceGoneError);
      for (const table of ['events', 'notifications', 'snapshots']) expect(await count(table, id), table).to.equal(0);
    });

    it('a delete that comes while a write holds the instance waits for it and removes what it wrote', async () => {
      const { id } = await createInstance(t, 'crm', provider.url);
      let wrote!: () => void;
      let commit!: () => void;
      const written = new Promise<void>((r) => (wrote = r));
      const committing = new Promise<void>((r) => (commit = r));
      const write = t.gateway.ctx.stores.transaction(async (uow) => {
        await recordOne(uow, id);
        wrote();
        await committing;
      });
      await written;
      const deleted = t.api.delete(`instances/${id}`);
      // PostgreSQL: let the delete reach the instance row's lock first (SQLite's one connection
      // queues it behind the write anyway).
      if (usePostgres) {
        for (let waiting = 0; waiting === 0; await new Promise((r) => setTimeout(r, 5))) {
          const [row] = (await t.gateway.db.raw("select count(*) as n from pg_stat_activity where wait_event_type = 'Lock'")).rows;
          waiting = Number(row.n);
        }
      }
      commit();
      await write;
      expect((await deleted).statusCode).to.equal(200);
      expect(await count('events', id)).to.equal(0);
    });
  });
});
