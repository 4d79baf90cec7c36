import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type dns from 'node:dns';
import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { Receiver } from '../providers/receiver.js';
import { createInstance, pollNow, providerConnector, registerConnector } from '../poller/helpers.js';
import { createGuardedLookup } from '../../src/network/ssrf-guard.js';
import { dispatcher } from './helpers.js';

/**
 * The dispatcher's rules beyond the happy path: jitter and Retry-After bounds, holds (notifications
 * switched off, instance paused), retention, the SSRF guard at send time, the concurrency bound
 * and strict replay input.
 */
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

interface NotificationView {
  status: string;
  attemptCount: number;
  nextAttemptDate: string | null;
  attempts: Array<{ statusCode: number | null; error: string | null; responseBody: string; node: string; durationMs: number }>;
}

describe('delivery rules', () => {
  let t: TestGateway;
  let provider: EmulatedProvider;
  let receiver: Receiver;

  async function setUp(config: Record<string, unknown> = {}, other: Record<string, unknown> = {}) {
    t = await startGateway({ config: { delivery: { timeoutSeconds: 0.5, retrySchedule: [5, 300], ...config }, ...other } });
    provider = await EmulatedProvider.start();
    provider.now = () => t.clock.now();
    receiver = await Receiver.start();
    await registerConnector(t, providerConnector('crm'));
    dispatcher(t).random = () => 0.5; // no jitter unless a test sets it
  }

  afterEach(async () => {
    await t?.close();
    await provider?.close();
    await receiver?.close();
  });

  async function instanceWithChanges(count: number, configuration: Record<string, unknown> = {}) {
    const { id } = await createInstance(t, 'crm', provider.url, { 'event.notification.callback.url': `${receiver.url}/hook`, ...configuration });
    t.clock.advance(MINUTE);
    for (let i = 0; i < count; i++) provider.collection('contacts').upsert({ name: `c${i}` });
    await pollNow(t, id);
    return id;
  }

  async function onlyNotification(): Promise<{ id: string } & NotificationView> {
    const [n] = (await t.gateway.db('notifications').select('id')) as Array<{ id: string }>;
    return { id: n.id, ...((await t.api.get(`notifications/${n.id}`)).body as unknown as NotificationView) };
  }

  it('spreads retries by ± delivery.retryJitter, and records each attempt with its details', async () => {
    await setUp({ retryJitter: 0.2, maxResponseBodyBytes: 16 });
    receiver.defaultStatus = 500;
    receiver.defaultBody = { error: 'x'.repeat(100) };
    await instanceWithChanges(1);
    dispatcher(t).random = () => 0; // the low end: 5 s − 20 %
    await dispatcher(t).tick();
    let n = await onlyNotification();
    expect(Date.parse(n.nextAttemptDate!) - t.clock.now()).to.equal(4000);
    expect(n.attempts[0]).to.include({ statusCode: 500, node: t.gateway.nodeId });
    expect(n.attempts[0].responseBody).to.have.length(16);
    expect(n.attempts[0].error).to.match(/HTTP 500/);
    expect(n.attempts[0].durationMs).to.be.a('number');

    dispatcher(t).random = () => 0.999_999; // the high end: 300 s + 20 %
    t.clock.advance(4000);
    await dispatcher(t).tick();
    n = await onlyNotification();
    expect(Date.parse(n.nextAttemptDate!) - t.clock.now()).to.be.within(359_000, 360_000);
  });

  it('keeps maxResponseBodyBytes of an answer in whole characters, and never reads more than 1 MiB of it', async () => {
    await setUp({ maxResponseBodyBytes: 15 });
    receiver.respondWith({ status: 500, body: 'é'.repeat(100) }, { status: 200, body: 'x'.repeat(3 * 1024 * 1024) });
    await instanceWithChanges(1);
    await dispatcher(t).tick();
    t.clock.advance(5000);
    await dispatcher(t).tick();
    const n = await onlyNotification();
    expect(n.attempts[0].responseBody).to.equal('é'.repeat(7)); // 14 bytes: the 8th would need 16
    expect(n.status).to.equal('delivered');
    expect(n.attempts[1]).to.include({ statusCode: 200, responseBody: '' });
    expect(n.attempts[1].error).to.match(/exceeded 1048576 bytes/);
  });

  it('reads Retry-After as seconds or an HTTP date (on the gateway clock), capped at the longest schedule step', async () => {
    await setUp();
    await instanceWithChanges(1);
    const at = new Date(t.clock.now() + 90_000).toUTCString();
    receiver.respondWith({ status: 503, headers: { 'retry-after': at } }, { status: 429, headers: { 'retry-after': '999999' } });
    await dispatcher(t).tick();
    expect(Date.parse((await onlyNotification()).nextAttemptDate!) - t.clock.now()).to.equal(90_000);
    t.clock.advance(90_000);
    await dispatcher(t).tick();
    expect(Date.parse((await onlyNotification()).nextAttemptDate!) - t.clock.now()).to.equal(300_000);
  });

  it('holds notifications while notifications are switched off, and sends them once switched on', async () => {
    await setUp();
    const id = await instanceWithChanges(1);
    const patch = (enabled: boolean) => t.api.patch(`instances/${id}`, { json: { configuration: { 'event.notification.enabled': enabled } } });
    expect((await patch(false)).statusCode).to.equal(200);
    await dispatcher(t).tick();
    let n = await onlyNotification();
    expect(n).to.include({ status: 'pending', attemptCount: 0 });
    expect(n.attempts).to.have.length(0);
    expect(receiver.received).to.have.length(0);

    expect((await patch(true)).statusCode).to.equal(200);
    t.clock.advance(MINUTE);
    await dispatcher(t).tick();
    n = await onlyNotification();
    expect(n).to.include({ status: 'delivered', attemptCount: 1 });
    expect(receiver.received).to.have.length(1);
  });

  it('a paused instance keeps its notifications pending and sends them when resumed', async () => {
    await setUp();
    const id = await instanceWithChanges(3);
    await t.api.put(`instances/${id}/events/enabled`, { json: { enabled: false } });
    expect(await dispatcher(t).tick()).to.equal(0);
    expect((await onlyNotification()).status).to.equal('pending');
    await t.api.put(`instances/${id}/events/enabled`, { json: { enabled: true } });
    expect(await dispatcher(t).tick()).to.equal(1);
    expect((await onlyNotification()).status).to.equal('delivered');
  });

  it('deletes delivered notifications past delivery.retentionDays, never undelivered ones; events stay', async () => {
    // Events are kept longer than notifications here: the retention job deletes each past its own setting.
    await setUp({ retentionDays: 30 }, { retention: { eventsDays: 90 } });
    receiver.respondWith({ status: 200 });
    receiver.defaultStatus = 500;
    const id = await instanceWithChanges(11); // two notifications: 10 events and 1
    await dispatcher(t).drain();
    const before = (await t.gateway.db('notifications').select('id', 'status')) as Array<{ id: string; status: string }>;
    expect(before.map((n) => n.status).sort()).to.deep.equal(['delivered', 'pending']);

    t.clock.advance(31 * DAY);
    await t.gateway.retention.prune();
    const after = (await t.gateway.db('notifications').select('id', 'status')) as Array<{ id: string; status: string }>;
    expect(after.map((n) => n.id)).to.deep.equal(before.filter((n) => n.status === 'pending').map((n) => n.id));
    expect(
      await t.gateway.db('attempts').whereIn(
        'notification_id',
        before.filter((n) => n.status === 'delivered').map((n) => n.id),
      ),
    ).to.have.length(0);
    const events = (await t.gateway.db('events').where({ instance_id: id }).select('notification_id')) as Array<{ notification_id: string | null }>;
    expect(events).to.have.length(11);
    expect(events.filter((e) => e.notification_id === null).length).to.be.oneOf([1, 10]);
  });

  it('checks the callback address again at send time: after DNS, and for literal addresses', async () => {
    await setUp();
    // A resolver standing in for DNS: the guard runs on what it answers.
    let answer = '10.1.2.3';
    const resolver = ((_host: string, _opts: unknown, cb: (err: null, a: dns.LookupAddress[]) => void) =>
      cb(null, [{ address: answer, family: 4 }])) as unknown as typeof dns.lookup;
    dispatcher(t).dnsLookup = createGuardedLookup(t.config.network, resolver);
    const port = new URL(receiver.url).port;
    await instanceWithChanges(1, { 'event.notification.callback.url': `http://callback.test:${port}/hook` });
    await dispatcher(t).tick();
    let n = await onlyNotification();
    expect(n.status).to.equal('pending');
    expect(n.attempts[0].error).to.match(/callback\.test resolves to 10\.1\.2\.3: private network addresses are not allowed/);
    expect(receiver.received).to.have.length(0);

    answer = '127.0.0.1'; // the same name, now resolving to an allowed address
    t.clock.advance(5000);
    await dispatcher(t).tick();
    expect((await onlyNotification()).status).to.equal('delivered');
    expect(receiver.received[0].headers.host).to.equal(`callback.test:${port}`);

    // A literal address accepted at create time, refused once the policy forbids it.
    await t.gateway.db('notifications').delete();
    await instanceWithChanges(1);
    t.config.network.allowLoopback = false;
    await dispatcher(t).tick();
    n = await onlyNotification();
    expect(n.attempts[0].error).to.match(/loopback addresses are not allowed/);
    expect(receiver.received).to.have.length(1);
  });

  it('keeps at most delivery.concurrency sends in flight', async () => {
    await setUp({ concurrency: 2 });
    let inFlight = 0;
    let most = 0;
    const slow = http.createServer((req, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      req.resume();
      // The server answers after a moment so that sends overlap; the test itself never sleeps.
      setTimeout(() => {
        inFlight--;
        res.end();
      }, 20);
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    try {
      await instanceWithChanges(60, { 'event.notification.callback.url': `http://127.0.0.1:${(slow.address() as AddressInfo).port}/` });
      expect(await dispatcher(t).tick()).to.equal(6);
      await dispatcher(t).idle();
      expect(most).to.equal(2);
      expect(await t.gateway.db('notifications').where({ status: 'delivered' })).to.have.length(6);
    } finally {
      slow.closeAllConnections();
      await new Promise((r) => slow.close(r));
    }
  });

  it('replay and retry answer 400 for a bad since and 404 for unknown ids', async () => {
    await setUp();
    const id = await instanceWithChanges(1);
    for (const since of ['1', 'yesterday', '2026-13-45T00:00:00Z', 42, undefined]) {
      const res = await t.api.post(`instances/${id}/notifications/replay`, { json: since === undefined ? {} : { since } });
      expect(res.statusCode, String(since)).to.equal(400);
      expect(JSON.stringify(res.body)).to.match(/since/);
    }
    // Without an offset the time is UTC; the notification was made at 10:01 UTC.
    expect((await t.api.post(`instances/${id}/notifications/replay`, { json: { since: '2026-11-24T10:02:00' } })).body).to.deep.equal({ replayed: 0 });
    await dispatcher(t).tick();
    expect((await t.api.post(`instances/${id}/notifications/replay`, { json: { since: '2026-11-24' } })).body).to.deep.equal({ replayed: 1 });
    expect((await t.api.post('instances/999/notifications/replay', { json: { since: '2026-11-24' } })).statusCode).to.equal(404);
    expect((await t.api.get('notifications/ntf_nope')).statusCode).to.equal(404);
    expect((await t.api.post('notifications/ntf_nope/retry')).statusCode).to.equal(404);
  });
});
