import { expect } from 'chai';
import got from 'got';
import { API_TOKEN, startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { Receiver } from '../providers/receiver.js';
import { createInstance, pollNow, providerConnector, registerConnector } from '../poller/helpers.js';
import { dispatcher } from './helpers.js';

/**
 * One receiver that never answers must not hold the others back: each callback origin gets a share
 * of the send slots, and an origin that keeps timing out or refusing is backed off as a whole by a
 * circuit breaker (open, half-open probe after the cool-down, closed on an answer). Progress is
 * asserted by order of events (requests arriving, the manual clock), never by elapsed time.
 */
const MINUTE = 60_000;

interface DeliveryStatus {
  origin: string;
  circuit: 'closed' | 'open' | 'half-open';
  consecutiveFailures: number;
  openedDate: string | null;
  retryDate: string | null;
  inFlight: number;
  node: string;
}
interface NotificationSummary {
  id: string;
  status: string;
  attemptCount: number;
}

describe('per-origin share and circuit breaker', () => {
  let t: TestGateway;
  const closeLater: Array<{ close(): Promise<void> }> = [];

  async function setUp(delivery: Record<string, unknown>) {
    t = await startGateway({
      config: {
        delivery: {
          concurrency: 16,
          maxConcurrencyPerOrigin: 4,
          maxEventsPerNotification: { polling: 1, webhook: 20 },
          retrySchedule: [5, 300, 1800],
          circuitBreaker: { failureThreshold: 3, cooldownSeconds: 30, maxCooldownSeconds: 120 },
          ...delivery,
        },
      },
    });
    await registerConnector(t, providerConnector('crm'));
    dispatcher(t).random = () => 0.5; // no jitter: exact retry times
  }

  async function receiver(port = 0): Promise<Receiver> {
    const r = await Receiver.start(port);
    closeLater.push(r);
    return r;
  }

  /** An instance whose callback is `url`, with `count` notifications of one event each (made a minute on). */
  async function instanceWithNotifications(url: string, count: number): Promise<{ id: number; provider: EmulatedProvider }> {
    const provider = await EmulatedProvider.start();
    closeLater.push(provider);
    provider.now = () => t.clock.now();
    const { id } = await createInstance(t, 'crm', provider.url, { 'event.notification.callback.url': `${url}/hook` });
    t.clock.advance(MINUTE);
    for (let i = 0; i < count; i++) provider.collection('contacts').upsert({ name: `c${i}` });
    await pollNow(t, id);
    return { id, provider };
  }

  async function notificationsOf(id: number): Promise<NotificationSummary[]> {
    return (await t.api.get(`instances/${id}/notifications?pageSize=500`)).body as unknown as NotificationSummary[];
  }

  async function deliveryStatus(id: number): Promise<DeliveryStatus> {
    return ((await t.api.get(`instances/${id}/status`)).body as unknown as { delivery: DeliveryStatus }).delivery;
  }

  async function metrics(): Promise<string> {
    return got(`${t.url}/metrics`, { headers: { authorization: `Bearer ${API_TOKEN}` } }).text();
  }

  afterEach(async () => {
    await t?.close();
    for (const c of closeLater.splice(0)) await c.close();
  });

  it('a receiver that never answers holds only its share of the slots: another instance is delivered meanwhile, and nothing is lost', async () => {
    // Long enough that no send times out in this test: the held requests end when the receiver drops them.
    await setUp({ timeoutSeconds: 10 });
    const dead = await receiver();
    dead.defaultHang = true;
    const healthy = await receiver();
    const d = await instanceWithNotifications(dead.url, 40);
    // The healthy instance's notification is the newest (a minute later): claimed last.
    const h = await instanceWithNotifications(healthy.url, 1);

    const pass = dispatcher(t).tick();
    await healthy.waitFor(1);
    // Delivered while the dead receiver still holds every request it got, and it got at most its share.
    expect(dead.received.length).to.be.at.most(4);
    expect(dead.inFlight).to.equal(dead.received.length);
    await dead.waitFor(4);
    expect(dead.maxInFlight).to.equal(4);
    const held = await deliveryStatus(d.id);
    expect(held).to.include({ origin: new URL(dead.url).origin, circuit: 'closed', inFlight: 4, node: t.gateway.nodeId });
    expect(await metrics()).to.include(`pollgate_delivery_in_flight{origin="${new URL(dead.url).origin}"} 4`);
    // Work that arrives meanwhile is claimed at the next tick, not once the held sends end.
    t.clock.advance(1000);
    h.provider.collection('contacts').upsert({ name: 'meanwhile' });
    await pollNow(t, h.id);
    void dispatcher(t).tick();
    await healthy.waitFor(2);
    expect(dead.received).to.have.length(4);

    // The receiver goes away: the held requests are reset, new connections refused. Three failures
    // in a row open the circuit; what waited for the origin is given back without an attempt.
    await dead.close();
    await pass;
    const opened = await deliveryStatus(d.id);
    expect(opened.circuit).to.equal('open');
    expect(opened.consecutiveFailures).to.be.at.least(3);
    expect(Date.parse(opened.retryDate!)).to.equal(t.clock.now() + 30_000);
    expect(await metrics()).to.include(`pollgate_delivery_circuit_open{origin="${new URL(dead.url).origin}"} 1`);
    const tried = (await notificationsOf(d.id)).filter((n) => n.attemptCount > 0);
    // The 4 held, plus at most the 2 that took a freed place before the third failure opened it.
    expect(tried.length).to.be.within(4, 6);
    expect(tried.every((n) => n.attemptCount === 1 && n.status === 'pending')).to.equal(true);

    // While it is open, claims skip the origin and other instances' notifications flow.
    t.clock.advance(1000);
    h.provider.collection('contacts').upsert({ name: 'later' });
    await pollNow(t, h.id);
    await dispatcher(t).tick();
    await healthy.waitFor(3);
    expect((await notificationsOf(d.id)).filter((n) => n.attemptCount > 0)).to.have.length(tried.length);

    // It comes back on the same address; after the cool-down a probe closes the circuit and every
    // notification goes out.
    const back = await receiver(Number(new URL(dead.url).port));
    t.clock.advance(30_000);
    await dispatcher(t).drain();
    expect(await deliveryStatus(d.id)).to.include({ circuit: 'closed', consecutiveFailures: 0, inFlight: 0 });
    expect(await metrics()).not.to.include('pollgate_delivery_circuit_open{');
    const all = await notificationsOf(d.id);
    expect(all.filter((n) => n.status === 'delivered')).to.have.length(40);
    expect(new Set(back.received.map((r) => r.headers['webhook-id']))).to.have.property('size', 40);
    expect((await notificationsOf(h.id)).map((n) => n.status)).to.deep.equal(['delivered', 'delivered', 'delivered']);
  });

  it('opens after K timeouts in a row, sends nothing while open, probes after the cool-down and closes when the receiver answers', async () => {
    // One send at a time to the origin, so the count of requests before the circuit opens is exact.
    await setUp({ timeoutSeconds: 0.2, maxConcurrencyPerOrigin: 1 });
    const flaky = await receiver();
    flaky.defaultHang = true;
    const { id } = await instanceWithNotifications(flaky.url, 10);
    const origin = new URL(flaky.url).origin;

    await dispatcher(t).tick();
    expect(flaky.received).to.have.length(3); // the third timeout opened it
    const openedAt = t.clock.now();
    let status = await deliveryStatus(id);
    expect(status).to.include({ circuit: 'open', consecutiveFailures: 3, openedDate: new Date(openedAt).toISOString() });
    expect(Date.parse(status.retryDate!)).to.equal(openedAt + 30_000);
    const text = await metrics();
    expect(text).to.include(`pollgate_delivery_circuit_open{origin="${origin}"} 1`);
    expect(text).to.match(/pollgate_delivery_circuit_opens_total 1\b/);
    let list = await notificationsOf(id);
    expect(list.filter((n) => n.attemptCount === 1)).to.have.length(3);
    expect(list.filter((n) => n.attemptCount === 0)).to.have.length(7);

    // The failed ones are due again after 5 s, but nothing goes out until the cool-down ends.
    t.clock.advance(5000);
    expect(await dispatcher(t).tick()).to.equal(0);
    t.clock.advance(24_999);
    expect(await dispatcher(t).tick()).to.equal(0);
    expect(flaky.received).to.have.length(3);

    // Half-open: one probe; it times out too, and the circuit opens again for twice as long.
    t.clock.advance(1);
    await dispatcher(t).tick();
    expect(flaky.received).to.have.length(4);
    status = await deliveryStatus(id);
    expect(status.circuit).to.equal('open');
    expect(Date.parse(status.retryDate!)).to.equal(t.clock.now() + 60_000);
    expect(await metrics()).to.match(/pollgate_delivery_circuit_opens_total 2\b/);

    // The receiver recovers: the next probe is answered, the circuit closes, and the rest follows.
    flaky.defaultHang = false;
    t.clock.advance(60_000);
    await dispatcher(t).drain();
    // A notification that failed twice (the probe may pick one that already failed) waits for its
    // next step of the schedule like any other.
    t.clock.advance(300_000);
    await dispatcher(t).drain();
    status = await deliveryStatus(id);
    expect(status).to.include({ circuit: 'closed', consecutiveFailures: 0, retryDate: null });
    expect(await metrics()).not.to.include(`pollgate_delivery_circuit_open{origin="${origin}"}`);
    list = await notificationsOf(id);
    expect(list.map((n) => n.status)).to.deep.equal(Array(10).fill('delivered'));
    // Only real attempts were charged: the 4 failed sends, plus one successful attempt each.
    expect(list.reduce((sum, n) => sum + n.attemptCount, 0)).to.equal(10 + 4);
    expect(flaky.received).to.have.length(14);
  });
  it('an instance moved to another callback origin leaves the open circuit behind: its notifications go out at once', async () => {
    await setUp({ timeoutSeconds: 0.2 });
    const dead = await receiver();
    dead.defaultHang = true;
    const { id } = await instanceWithNotifications(dead.url, 6);
    await dispatcher(t).tick();
    expect((await deliveryStatus(id)).circuit).to.equal('open');
    const sent = dead.received.length;

    const moved = await receiver();
    const patch = await t.api.patch(`instances/${id}`, { json: { configuration: { 'event.notification.callback.url': `${moved.url}/hook` } } });
    expect(patch.statusCode).to.equal(200);
    await dispatcher(t).drain();
    // The ones never tried go out now; the ones that timed out at their next step of the schedule.
    expect(moved.received).to.have.length(6 - sent);
    expect(await deliveryStatus(id)).to.include({ origin: new URL(moved.url).origin, circuit: 'closed' });
    t.clock.advance(5000);
    await dispatcher(t).drain();
    expect((await notificationsOf(id)).map((n) => n.status)).to.deep.equal(Array(6).fill('delivered'));
    expect(dead.received).to.have.length(sent);
  });
});
