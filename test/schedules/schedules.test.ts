import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { Receiver } from '../providers/receiver.js';
import { dispatcher } from '../delivery/helpers.js';
import { claimDue } from '../../src/db/lease.js';

const MINUTE = 60_000;
const at = (t: TestGateway, ms: number) => new Date(t.clock.now() + ms).toISOString();

describe('scheduled events', () => {
  let t: TestGateway;
  let receiver: Receiver;
  let instanceId: number;

  beforeEach(async () => {
    t = await startGateway();
    receiver = await Receiver.start();
    const res = await t.api.post('instances', {
      json: { element: { key: 'sandbox' }, configuration: { api_key: 'k', 'event.notification.callback.url': `${receiver.url}/scheduled` } },
    });
    instanceId = (res.body as unknown as { id: number }).id;
  });

  afterEach(async () => {
    await t.close();
    await receiver.close();
  });

  const scheduler = (g: TestGateway) => g.gateway.schedules.scheduler;
  const create = (body: Record<string, unknown>) => t.api.post(`instances/${instanceId}/schedules`, { json: body });
  const get = async (name: string) => (await t.api.get(`instances/${instanceId}/schedules/${name}`)).body as unknown as Record<string, unknown>;
  const put = (name: string, body: Record<string, unknown>) => t.api.put(`instances/${instanceId}/schedules/${name}`, { json: body });
  const scheduleNotifications = async (g: TestGateway = t) =>
    ((await g.gateway.db('notifications').where({ source: 'schedule' }).orderBy('created_at')) as Array<{ instance_id: number; payload: string }>).map((n) => ({
      instanceId: n.instance_id,
      ...JSON.parse(n.payload),
    }));

  it('creates, fetches, lists, updates and deletes schedules', async () => {
    const created = await create({ name: 'remind', data: { ticket: 42 }, schedule_at: at(t, 10 * MINUTE) });
    expect(created.statusCode).to.equal(201);
    expect(created.body).to.deep.include({ name: 'remind', status: 'scheduled', data: { ticket: 42 }, schedule_at: '2026-11-24T10:10:00.000Z', repeat: null });
    expect((await t.api.get(`instances/${instanceId}/schedules/remind`)).body).to.deep.include({ name: 'remind' });
    const updated = await t.api.put(`instances/${instanceId}/schedules/remind`, { json: { schedule_at: at(t, 20 * MINUTE), data: { ticket: 43 } } });
    expect(updated.body).to.deep.include({ schedule_at: '2026-11-24T10:20:00.000Z', data: { ticket: 43 }, nextFireDate: '2026-11-24T10:20:00.000Z' });
    expect(((await t.api.get(`instances/${instanceId}/schedules`)).body as unknown as unknown[]).length).to.equal(1);
    const deleted = await t.api.delete(`instances/${instanceId}/schedules/remind`);
    expect(deleted.statusCode).to.equal(200);
    // Freshworks' $schedule.delete answers "a json with status and message".
    expect(deleted.body).to.deep.equal({ status: 200, message: 'Schedule "remind" deleted' });
    expect((await t.api.get(`instances/${instanceId}/schedules/remind`)).statusCode).to.equal(404);
  });

  it('refuses each rule with a 400 (or 409 for a duplicate name) that says which', async () => {
    const cases: Array<[Record<string, unknown>, number, RegExp]> = [
      [{ name: 'soon', data: {}, schedule_at: at(t, 60_000) }, 400, /at least 300 seconds/],
      [{ name: 'when', data: {}, schedule_at: 'tomorrow' }, 400, /ISO 8601/],
      [{ name: 'big', data: { x: 'y'.repeat(5000) }, schedule_at: at(t, 10 * MINUTE) }, 400, /at most 4096 bytes/],
      [{ name: 'bad name!', data: {}, schedule_at: at(t, 10 * MINUTE) }, 400, /name/],
      [{ name: 'nodata', schedule_at: at(t, 10 * MINUTE) }, 400, /data/],
      [{ name: 'rep', data: {}, schedule_at: at(t, 10 * MINUTE), repeat: { time_unit: 'weeks', frequency: 1 } }, 400, /time_unit/],
    ];
    for (const [body, status, message] of cases) {
      const res = await create(body);
      expect(res.statusCode, String(body.name)).to.equal(status);
      expect(JSON.stringify(res.body), String(body.name)).to.match(message);
    }
    expect((await create({ name: 'r1', data: {}, schedule_at: at(t, 10 * MINUTE), repeat: { time_unit: 'hours', frequency: 1 } })).statusCode).to.equal(201);
    const second = await create({ name: 'r2', data: {}, schedule_at: at(t, 10 * MINUTE), repeat: { time_unit: 'hours', frequency: 1 } });
    expect(second.statusCode).to.equal(400);
    expect(JSON.stringify(second.body)).to.match(/recurring schedules, the limit/);
    expect((await create({ name: 'r1', data: {}, schedule_at: at(t, 10 * MINUTE) })).statusCode).to.equal(409);
  });

  it('limits one-time schedules per instance', async () => {
    const small = await startGateway({ config: { schedules: { maxOneTimePerInstance: 2 } }, clock: t.clock });
    try {
      const res = await small.api.post('instances', { json: { element: { key: 'sandbox' }, configuration: { api_key: 'k' } } });
      const id = (res.body as unknown as { id: number }).id;
      const make = (name: string) => small.api.post(`instances/${id}/schedules`, { json: { name, data: {}, schedule_at: at(t, 10 * MINUTE) } });
      expect((await make('a')).statusCode).to.equal(201);
      expect((await make('b')).statusCode).to.equal(201);
      const third = await make('c');
      expect(third.statusCode).to.equal(400);
      expect(JSON.stringify(third.body)).to.match(/one-time schedules, the limit/);
    } finally {
      await small.close();
    }
  });

  it('fires a one-time schedule once, through the signed delivery path', async () => {
    await create({ name: 'once', data: { hello: 'world' }, schedule_at: at(t, 10 * MINUTE) });
    expect(await scheduler(t).tick()).to.equal(0);
    t.clock.advance(10 * MINUTE);
    expect(await scheduler(t).tick()).to.equal(1);
    expect(await scheduler(t).tick()).to.equal(0);
    await dispatcher(t).drain();
    const [req] = await receiver.waitFor(1);
    expect(req.body).to.deep.include({
      event: 'onScheduledEvent',
      instanceId,
      elementKey: 'sandbox',
      scheduleName: 'once',
      timestamp: Date.parse('2026-11-24T10:10:00.000Z'),
      date: '2026-11-24T10:10:00.000Z',
      data: { hello: 'world' },
    });
    expect(req.headers['webhook-signature']).to.match(/^v1,/);
    expect((await t.api.get(`instances/${instanceId}/schedules/once`)).body).to.deep.include({ status: 'fired', fireCount: 1 });
  });

  it('a recurring schedule fires each period and skips missed runs instead of bursting', async () => {
    await create({ name: 'every5', data: {}, schedule_at: at(t, 5 * MINUTE), repeat: { time_unit: 'minutes', frequency: 5 } });
    t.clock.advance(5 * MINUTE);
    expect(await scheduler(t).tick()).to.equal(1);
    t.clock.advance(5 * MINUTE);
    expect(await scheduler(t).tick()).to.equal(1);
    // Down for an hour: one firing, then the next slot in the future.
    t.clock.advance(60 * MINUTE + 1000);
    expect(await scheduler(t).tick()).to.equal(1);
    expect(await scheduler(t).tick()).to.equal(0);
    const s = (await t.api.get(`instances/${instanceId}/schedules/every5`)).body as unknown as { fireCount: number; nextFireDate: string };
    expect(s.fireCount).to.equal(3);
    expect(Date.parse(s.nextFireDate)).to.equal(Date.parse('2026-11-24T11:15:00.000Z'));
  });

  it('survives a restart: a missed one-time schedule fires once on start, a missed recurring one once', async () => {
    await create({ name: 'missed', data: { m: 1 }, schedule_at: at(t, 10 * MINUTE) });
    await create({ name: 'hourly', data: {}, schedule_at: at(t, 10 * MINUTE), repeat: { time_unit: 'hours', frequency: 1 } });
    const { dataDir, schema } = t;
    await t.gateway.stop();
    t.clock.advance(5 * 60 * MINUTE); // down for five hours: four hourly slots missed
    const restarted = await startGateway({ dataDir, schema, clock: t.clock });
    try {
      expect(await scheduler(restarted).tick()).to.equal(2);
      expect(await scheduler(restarted).tick()).to.equal(0);
      const hourly = (await restarted.api.get(`instances/${instanceId}/schedules/hourly`)).body as unknown as Record<string, unknown>;
      expect(hourly).to.deep.include({ fireCount: 1, nextFireDate: '2026-11-24T15:10:00.000Z' });
      const sent = await scheduleNotifications(restarted);
      expect(sent.map((n) => n.scheduleName).sort()).to.deep.equal(['hourly', 'missed']);
      expect(sent.find((n) => n.scheduleName === 'missed')).to.deep.include({
        data: { m: 1 },
        timestamp: Date.parse('2026-11-24T15:00:00.000Z'),
        date: '2026-11-24T15:00:00.000Z',
      });
    } finally {
      await restarted.close();
    }
  });

  it('fires once with two workers on the same database', async () => {
    // More than one claim batch (100), and a recurring one, raced by two gateways tick for tick.
    const count = 150;
    for (let i = 0; i < count; i++) await create({ name: `s${i}`, data: { i }, schedule_at: at(t, 10 * MINUTE) });
    await create({ name: 'every', data: {}, schedule_at: at(t, 10 * MINUTE), repeat: { time_unit: 'minutes', frequency: 10 } });
    const other = await startGateway({ dataDir: t.dataDir, schema: t.schema, clock: t.clock });
    try {
      t.clock.advance(10 * MINUTE);
      let fired = 0;
      for (let round = 0; round < 3; round++) {
        const [a, b] = await Promise.all([scheduler(t).tick(), scheduler(other).tick()]);
        fired += a + b;
      }
      expect(fired).to.equal(count + 1);
      const sent = await scheduleNotifications();
      expect(sent).to.have.length(count + 1);
      expect(new Set(sent.map((n) => n.scheduleName)).size).to.equal(count + 1);
      const rows = (await t.gateway.db('schedules').select('fire_count', 'lease_owner')) as Array<{ fire_count: number; lease_owner: string | null }>;
      expect(rows.every((r) => r.fire_count === 1 && r.lease_owner === null)).to.equal(true);
    } finally {
      await other.close();
    }
  });

  it('reads schedule_at as UTC without an offset, converts offsets, and refuses impossible dates', async () => {
    expect((await create({ name: 'utc', data: {}, schedule_at: '2026-11-24T12:00:00' })).body).to.deep.include({ schedule_at: '2026-11-24T12:00:00.000Z' });
    expect((await create({ name: 'paris', data: {}, schedule_at: '2026-11-24T12:00:00+01:00' })).body).to.deep.include({
      schedule_at: '2026-11-24T11:00:00.000Z',
    });
    for (const schedule_at of ['2027-02-30T12:00:00Z', '2026-11-24', '2026-11-24 12:00:00Z', 1795521600000]) {
      const res = await create({ name: 'bad', data: {}, schedule_at });
      expect(res.statusCode, String(schedule_at)).to.equal(400);
      expect(JSON.stringify(res.body), String(schedule_at)).to.match(/schedule_at must be an ISO 8601/);
    }
  });

  it('PUT: changes data, time and repeat; refuses renames and a past time; re-arms a fired schedule', async () => {
    await create({ name: 'job', data: { v: 1 }, schedule_at: at(t, 10 * MINUTE) });
    expect((await put('job', { name: 'other' })).statusCode).to.equal(400);
    expect((await put('missing', { data: {} })).statusCode).to.equal(404);
    expect((await put('job', { schedule_at: at(t, MINUTE) })).statusCode).to.equal(400);
    const recurring = await put('job', { repeat: { time_unit: 'days', frequency: 1 } });
    expect(recurring.body).to.deep.include({ repeat: { time_unit: 'days', frequency: 1 }, nextFireDate: '2026-11-24T10:10:00.000Z' });
    expect((await put('job', { repeat: null })).body).to.deep.include({ repeat: null, status: 'scheduled' });
    t.clock.advance(10 * MINUTE);
    expect(await scheduler(t).tick()).to.equal(1);
    expect(await get('job')).to.deep.include({ status: 'fired', nextFireDate: null, lastFiredDate: '2026-11-24T10:10:00.000Z' });
    // Data only: still fired. A one-time schedule whose time passed needs a new time to fire again.
    expect((await put('job', { data: { v: 2 } })).body).to.deep.include({ status: 'fired', data: { v: 2 } });
    const noTime = await put('job', { repeat: null });
    expect(noTime.statusCode).to.equal(400);
    expect(JSON.stringify(noTime.body)).to.match(/schedule_at is required/);
    expect((await put('job', { schedule_at: at(t, 10 * MINUTE) })).body).to.deep.include({ status: 'scheduled', fireCount: 1 });
    t.clock.advance(10 * MINUTE);
    expect(await scheduler(t).tick()).to.equal(1);
    expect((await scheduleNotifications()).map((n) => n.data)).to.deep.equal([{ v: 1 }, { v: 2 }]);
  });

  it('a change wins over a firing in progress: PUT releases the lease and the changed schedule fires', async () => {
    await create({ name: 'race', data: { v: 1 }, schedule_at: at(t, 10 * MINUTE) });
    t.clock.advance(10 * MINUTE);
    // Another node claimed it and has not finished (or died): its lease holds the schedule.
    const [claimed] = await claimDue(t.gateway.db, {
      table: 'schedules',
      dueColumn: 'next_fire_at',
      now: t.clock.now(),
      owner: 'other-node',
      leaseMs: 60_000,
      limit: 10,
    });
    expect(claimed).to.include({ name: 'race' });
    expect(await scheduler(t).tick()).to.equal(0);
    await put('race', { data: { v: 2 } });
    expect(await scheduler(t).tick()).to.equal(1);
    // The other node's guarded update now finds no lease of its own: it cannot fire it again.
    const stale = await t.gateway
      .db('schedules')
      .where({ id: (claimed as { id: number }).id, lease_owner: 'other-node' })
      .update({ fire_count: 99 });
    expect(stale).to.equal(0);
    expect((await scheduleNotifications()).map((n) => n.data)).to.deep.equal([{ v: 2 }]);
  });

  it('checks names and limits one request at a time: concurrent creates never exceed them', async () => {
    const same = await Promise.all(Array.from({ length: 8 }, () => create({ name: 'dup', data: {}, schedule_at: at(t, 10 * MINUTE) })));
    expect(same.map((r) => r.statusCode).sort()).to.deep.equal([201, 409, 409, 409, 409, 409, 409, 409]);
    const recurring = await Promise.all(
      Array.from({ length: 6 }, (_, i) => create({ name: `rec${i}`, data: {}, schedule_at: at(t, 10 * MINUTE), repeat: { time_unit: 'hours', frequency: 2 } })),
    );
    expect(recurring.filter((r) => r.statusCode === 201)).to.have.length(1);
    expect(recurring.filter((r) => r.statusCode === 400)).to.have.length(5);
  });

  it('lists newest first with paging; deleting the instance deletes its schedules', async () => {
    for (const name of ['a', 'b', 'c']) await create({ name, data: {}, schedule_at: at(t, 10 * MINUTE) });
    const first = await t.api.get(`instances/${instanceId}/schedules?pageSize=2`);
    expect((first.body as unknown as Array<{ name: string }>).map((s) => s.name)).to.deep.equal(['c', 'b']);
    const rest = await t.api.get(`instances/${instanceId}/schedules?pageSize=2&nextPage=${first.headers['elements-next-page-token']}`);
    expect((rest.body as unknown as Array<{ name: string }>).map((s) => s.name)).to.deep.equal(['a']);
    expect(rest.headers['elements-next-page-token']).to.equal(undefined);
    expect((await t.api.delete(`instances/${instanceId}`)).statusCode).to.be.within(200, 204);
    expect(await t.gateway.db('schedules').count({ n: '*' })).to.deep.equal([{ n: 0 }]);
    expect((await t.api.get(`instances/${instanceId}/schedules`)).statusCode).to.equal(404);
  });

  it('without a callback the firing is counted and nothing queued; a paused instance queues and holds it', async () => {
    const quiet = (
      (await t.api.post('instances', { json: { element: { key: 'sandbox' }, configuration: { api_key: 'k' } } })).body as unknown as { id: number }
    ).id;
    await t.api.post(`instances/${quiet}/schedules`, { json: { name: 'q', data: {}, schedule_at: at(t, 10 * MINUTE) } });
    await create({ name: 'held', data: { x: 1 }, schedule_at: at(t, 10 * MINUTE) });
    expect((await t.api.put(`instances/${instanceId}/events/enabled`, { json: { enabled: false } })).statusCode).to.equal(200);
    t.clock.advance(10 * MINUTE);
    expect(await scheduler(t).tick()).to.equal(2);
    expect((await t.api.get(`instances/${quiet}/schedules/q`)).body as unknown as Record<string, unknown>).to.deep.include({ status: 'fired', fireCount: 1 });
    expect((await scheduleNotifications()).map((n) => [n.instanceId, n.scheduleName])).to.deep.equal([[instanceId, 'held']]);
    expect(await dispatcher(t).drain()).to.equal(0);
    await t.api.put(`instances/${instanceId}/events/enabled`, { json: { enabled: true } });
    await dispatcher(t).drain();
    expect((await receiver.waitFor(1))[0].body).to.deep.include({ scheduleName: 'held', data: { x: 1 } });
  });
});
