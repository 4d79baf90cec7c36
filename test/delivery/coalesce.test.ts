import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { Receiver } from '../providers/receiver.js';
import { createInstance, pollNow, providerConnector, registerConnector } from '../poller/helpers.js';
import { dispatcher } from './helpers.js';

/**
 * Coalescing under backlog (docs/delivery.md): pending polling notifications of one instance and
 * object type that were never attempted go out merged, up to the instance's events per
 * notification; every event arrives once, in order, under a stable `webhook-id`.
 */
describe('delivery: notifications coalesced under backlog', () => {
  let t: TestGateway;
  let provider: EmulatedProvider;
  let receiver: Receiver;
  let id: number;

  type Body = { id: string; events: Array<{ objectId: string; sequence: number }>; raw: { contacts: Array<{ name: string }> } };

  beforeEach(async () => {
    t = await startGateway();
    provider = await EmulatedProvider.start();
    receiver = await Receiver.start();
    provider.now = () => t.clock.now();
    await registerConnector(t, providerConnector('crm'));
    // One event per notification when they are recorded: a backlog of 200 single-event notifications.
    ({ id } = await createInstance(t, 'crm', provider.url, {
      'event.notification.callback.url': `${receiver.url}/hook`,
      'event.notification.maxBatchSize': 1,
    }));
    t.clock.advance(60_000);
    for (let i = 0; i < 200; i++) provider.collection('contacts').upsert({ name: `c${i}` });
    expect((await pollNow(t, id)).contacts.created).to.equal(200);
    expect(await t.gateway.db('notifications').count({ n: '*' })).to.deep.equal([{ n: 200 }]);
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
    await receiver.close();
  });

  const setMax = async (max: number) => {
    const res = await t.api.patch(`instances/${id}`, { json: { configuration: { 'event.notification.maxBatchSize': max } } });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(200);
  };

  it('200 pending single-event notifications reach one callback in at most ceil(200/max) requests, every event once and in order', async () => {
    const max = 50;
    await setMax(max);
    await dispatcher(t).drain();
    expect(receiver.received.length)
      .to.be.at.least(1)
      .and.at.most(Math.ceil(200 / max));
    const bodies = receiver.received.map((r) => r.body as Body);
    const objectIds = bodies.flatMap((b) => b.events.map((e) => e.objectId));
    expect(objectIds).to.have.length(200);
    expect(new Set(objectIds).size).to.equal(200);
    for (const body of bodies) {
      const seqs = body.events.map((e) => e.sequence);
      expect(seqs).to.deep.equal([...seqs].sort((a, b) => a - b));
      expect(body.events.length).to.be.at.most(max);
      // The records come back with their events, one each, in the same order.
      expect(body.raw.contacts).to.have.length(body.events.length);
    }
    for (const req of receiver.received) expect(req.headers['webhook-id']).to.equal((req.body as Body).id);
    // What is left in the outbox is what was sent: one row per request, delivered, ids as sent.
    const rows = (await t.gateway.db('notifications').select('id', 'status', 'event_count')) as Array<{ id: string; status: string; event_count: number }>;
    expect(rows.map((r) => r.id).sort()).to.deep.equal(bodies.map((b) => b.id).sort());
    expect(rows.every((r) => r.status === 'delivered')).to.equal(true);
    expect(rows.reduce((n, r) => n + r.event_count, 0)).to.equal(200);
    const events = await t.gateway.db('events').whereNull('notification_id').count({ n: '*' });
    expect(events).to.deep.equal([{ n: 0 }]);
  });

  it('a notification already attempted is never merged: its retry carries the same id and events', async () => {
    await t.gateway.db('notifications').update({ next_attempt_at: t.clock.now() + 3_600_000 });
    const oldest = (await t.gateway.db('notifications').orderBy('created_at').orderBy('id').first()) as { id: string };
    await t.gateway.db('notifications').where({ id: oldest.id }).update({ next_attempt_at: t.clock.now() });
    receiver.respondWith({ status: 500 });
    await dispatcher(t).tick();
    expect(receiver.received).to.have.length(1);
    const first = receiver.received[0].body as Body;
    expect(first.events).to.have.length(1);

    await setMax(50);
    t.clock.advance(3_600_001);
    await dispatcher(t).drain();
    const retried = receiver.received.slice(1).filter((r) => (r.body as Body).id === oldest.id);
    expect(retried).to.have.length(1);
    expect((retried[0].body as Body).events).to.deep.equal(first.events);
    const objectIds = receiver.received.slice(1).flatMap((r) => (r.body as Body).events.map((e) => e.objectId));
    expect(new Set(objectIds).size).to.equal(200);
    expect(objectIds).to.have.length(200);
  });
});
