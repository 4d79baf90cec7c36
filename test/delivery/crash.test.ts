import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startGatewayProcess } from '../helpers/gateway-process.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { Receiver } from '../providers/receiver.js';
import { createInstance, pollNow, providerConnector, registerConnector } from '../poller/helpers.js';

describe('delivery crash safety', () => {
  let t: TestGateway;
  let provider: EmulatedProvider;
  let receiver: Receiver;

  beforeEach(async () => {
    t = await startGateway({ clock: undefined });
    provider = await EmulatedProvider.start();
    receiver = await Receiver.start();
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
    await receiver.close();
  });

  it('a dispatcher killed mid-flight (SIGKILL) loses nothing: after restart every event arrives at least once', async function () {
    this.timeout(60_000);
    // Events are written by the in-process gateway (real clock for the child processes).
    provider.now = () => t.clock.now();
    await registerConnector(t, providerConnector('crm'));
    const { id } = await createInstance(t, 'crm', provider.url, { 'event.notification.callback.url': `${receiver.url}/hook` });
    t.clock.advance(60_000);
    for (let i = 0; i < 30; i++) provider.collection('contacts').upsert({ name: `c${i}` });
    await pollNow(t, id);
    // Make the work due now for the child processes, which run on the real clock.
    await t.gateway.db('notifications').update({ next_attempt_at: Date.now() - 1000, created_at: Date.now() - 1000 });
    await t.gateway.stop();

    // The receiver hangs on the first request: the child is killed while that attempt is in flight.
    receiver.respondWith({ status: 200, hang: true });
    // Lease = max(leaseSeconds, 2 × timeout + 5 s): short here so the retake happens within seconds.
    const fast = { delivery: { enabled: true, tickSeconds: 1, leaseSeconds: 2, timeoutSeconds: 1, concurrency: 1 }, poller: { enabled: false } };
    const first = await startGatewayProcess({ dataDir: t.dataDir, schema: t.schema, nodeId: 'node-a', config: fast });
    await receiver.waitFor(1, 15_000).catch((err) => {
      throw new Error(`${err.message}\n${first.output()}`);
    });
    await first.kill('SIGKILL');
    const probe = await startGateway({ dataDir: t.dataDir, schema: t.schema });
    const leased = await probe.gateway.db('notifications').whereNotNull('lease_owner').select('id', 'lease_owner');
    await probe.close();
    expect(leased.map((l) => l.lease_owner)).to.deep.equal(['node-a']);

    const second = await startGatewayProcess({
      dataDir: t.dataDir,
      schema: t.schema,
      nodeId: 'node-b',
      config: { ...fast, delivery: { ...fast.delivery, concurrency: 4 } },
    });
    try {
      // 30 events in 3 notifications; the one in flight at the kill is sent again after its lease.
      await receiver.waitFor(4, 20_000);
    } finally {
      await second.kill('SIGTERM');
    }
    const bodies = receiver.received.slice(1).map((r) => r.body as { id: string; events: Array<{ sequence: number }> });
    const sequences = new Set(bodies.flatMap((b) => b.events.map((e) => e.sequence)));
    expect(sequences.size).to.equal(30);
    expect(receiver.received[0].headers['webhook-id']).to.be.oneOf(bodies.map((b) => b.id));
  });
});
