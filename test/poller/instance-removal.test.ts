import { expect } from 'chai';
import type { Knex } from 'knex';
import { InstanceGoneError } from '../../src/db/instance-guard.js';
import { recordEvents } from '../../src/events/record.js';
import { startGateway, usePostgres, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../providers/provider-server.js';
import { createInstance, pollNow, providerConnector, registerConnector } from './helpers.js';

const MINUTE = 60_000;
/** What a promise was rejected with (null when it resolved). */
const rejection = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e,
  );

/** One CREATED event of instance `id`, with its notification, in `trx`. */
const recordOne = (trx: Knex, id: number) =>
  recordEvents(
    trx,
    { id, name: 'x', elementKey: 'crm' },
    [{ eventType: 'CREATED', objectType: 'contacts', objectId: '1', date: new Date(0).toISOString(), raw: {} }],
    { source: 'polling', now: 0, notify: true, maxPerNotification: 10 },
  );

// Events and snapshots have no foreign key to instances (migration 012): deleting an instance
// removes them by hand, and a write for an instance deleted meanwhile is refused.
describe('removing an instance: its events and snapshots go with it', () => {
  let t: TestGateway;
  let provider: EmulatedProvider;

  beforeEach(async () => {
    t = await startGateway();
    provider = await EmulatedProvider.start();
    provider.now = () => t.clock.now();
    await registerConnector(t, providerConnector('crm'));
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
  });

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
    const write = t.gateway.db.transaction((trx) => recordOne(trx, id));
    expect(await rejection(write)).to.be.instanceOf(InstanceGoneError);
    const snapshots = t.gateway.ctx.stores.snapshots;
    const upsert = snapshots.transaction((tx) => tx.upsert({ instanceId: id, objectType: 'contacts' }, [{ id: '1', hash: 'h', deleted: false }], 0, 0));
    expect(await rejection(upsert)).to.be.instanceOf(InstanceGoneError);
    for (const table of ['events', 'notifications', 'snapshots']) expect(await count(table, id), table).to.equal(0);
  });

  it('a delete that comes while a write holds the instance waits for it and removes what it wrote', async () => {
    const { id } = await createInstance(t, 'crm', provider.url);
    let wrote!: () => void;
    let commit!: () => void;
    const written = new Promise<void>((r) => (wrote = r));
    const committing = new Promise<void>((r) => (commit = r));
    const write = t.gateway.db.transaction(async (trx) => {
      await recordOne(trx, id);
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
