import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { Receiver } from '../providers/receiver.js';
import type { ScheduleFeature } from '../../src/schedules/feature.js';
import { dispatcher } from '../delivery/helpers.js';

const MINUTE = 60_000;
const at = (t: TestGateway, ms: number) => new Date(t.clock.now() + ms).toISOString();

describe('scheduled events', () => {
  let t: TestGateway;
  let receiver: Receiver;
  let instanceId: number;

  beforeEach(async () => {
    t = await startGateway();
    receiver = await Receiver.start();
    const res = await t.api.post('instances', { json: { element: { key: 'sandbox' }, configuration: { api_key: 'k', 'event.notification.callback.url': `${receiver.url}/scheduled` } } });
    instanceId = (res.body as unknown as { id: number }).id;
  });

  afterEach(async () => {
    await t.close();
    await receiver.close();
  });

  const scheduler = (g: TestGateway) => g.gateway.feature<ScheduleFeature>('schedules').scheduler;
  const create = (body: Record<string, unknown>) => t.api.post(`instances/${instanceId}/schedules`, { json: body });

  it('creates, fetches, lists, updates and deletes schedules', async () => {
    const created = await create({ name: 'remind', data: { ticket: 42 }, schedule_at: at(t, 10 * MINUTE) });
    expect(created.statusCode).to.equal(201);
    expect(created.body).to.deep.include({ name: 'remind', status: 'scheduled', data: { ticket: 42 }, schedule_at: '2026-11-24T10:10:00.000Z', repeat: null });
    expect((await t.api.get(`instances/${instanceId}/schedules/remind`)).body).to.deep.include({ name: 'remind' });
    const updated = await t.api.put(`instances/${instanceId}/schedules/remind`, { json: { schedule_at: at(t, 20 * MINUTE), data: { ticket: 43 } } });
    expect(updated.body).to.deep.include({ schedule_at: '2026-11-24T10:20:00.000Z', data: { ticket: 43 }, nextFireDate: '2026-11-24T10:20:00.000Z' });
    expect(((await t.api.get(`instances/${instanceId}/schedules`)).body as unknown as unknown[]).length).to.equal(1);
    expect((await t.api.delete(`instances/${instanceId}/schedules/remind`)).statusCode).to.equal(200);
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
    expect(req.body).to.deep.include({ event: 'onScheduledEvent', instanceId, elementKey: 'sandbox', scheduleName: 'once', timestamp: '2026-11-24T10:10:00.000Z', data: { hello: 'world' } });
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

  it('survives a restart: a one-time schedule missed while down fires once on start', async () => {
    await create({ name: 'missed', data: {}, schedule_at: at(t, 10 * MINUTE) });
    const { dataDir, schema } = t;
    await t.gateway.stop();
    t.clock.advance(60 * MINUTE);
    const restarted = await startGateway({ dataDir, schema, clock: t.clock });
    try {
      expect(await scheduler(restarted).tick()).to.equal(1);
      expect(await scheduler(restarted).tick()).to.equal(0);
    } finally {
      await restarted.close();
    }
  });

  it('fires once with two workers on the same database', async () => {
    for (let i = 0; i < 20; i++) await create({ name: `s${i}`, data: { i }, schedule_at: at(t, 10 * MINUTE) });
    const other = await startGateway({ dataDir: t.dataDir, schema: t.schema, clock: t.clock });
    try {
      t.clock.advance(10 * MINUTE);
      const [a, b] = await Promise.all([scheduler(t).tick(), scheduler(other).tick()]);
      expect(a + b).to.equal(20);
      const notifications = await t.gateway.db('notifications').where({ source: 'schedule' });
      expect(notifications).to.have.length(20);
      expect(new Set(notifications.map((n) => JSON.parse(n.payload).scheduleName)).size).to.equal(20);
    } finally {
      await other.close();
    }
  });
});
