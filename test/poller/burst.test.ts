import { expect } from 'chai';
import { startGateway, usePostgres, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { providerConnector, registerConnector } from './helpers.js';

/**
 * Jitter at scale, on the scheduler driven by the manual clock second by second: instances created
 * in the same instant spread their polls over their interval instead of all polling in one second.
 * Slow (10,000 real creates and polls), so it runs with the end-to-end tests.
 */
const EMPTY = providerConnector('empty', {
  configuration: [{ key: 'base_url', required: true }],
  auth: { type: 'none' },
  poller: { items: { url: '/empty?since=${epoch:s}', idField: 'id' } },
} as never);

describe('poll jitter: a burst of instances created at once', function () {
  this.timeout(600_000);
  let provider: EmulatedProvider;
  let t: TestGateway | undefined;

  beforeEach(async () => {
    provider = await EmulatedProvider.start();
    provider.recordRequests = false;
    provider.route('GET', '/empty', () => ({ status: 200, body: [] }));
  });

  afterEach(async () => {
    await t?.close();
    t = undefined;
    await provider.close();
  });

  /** Creates `n` one-minute instances at one instant of the manual clock, then ticks the scheduler once a second for a minute. */
  async function pollsPerSecond(jitterSeconds: number, n: number): Promise<number[]> {
    t = await startGateway({ config: { poller: { jitterSeconds, concurrency: 64 } } });
    provider.now = () => t!.clock.now();
    await registerConnector(t, EMPTY);
    const created = t.clock.now();
    for (let i = 0; i < n; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, n - i) }, () =>
          t!.gateway.instances.create({ element: { key: 'empty' }, configuration: { base_url: provider.url, 'event.poller.refresh_interval': '1' } }),
        ),
      );
    }
    expect(t.clock.now()).to.equal(created);
    const perSecond: number[] = [];
    for (let second = 1; second <= 60; second++) {
      t.clock.set(created + second * 1000);
      // One tick claims every poll due in the second that just ended and starts it.
      perSecond.push(await t.gateway.poller.tick());
      await t.gateway.poller.idle();
    }
    return perSecond;
  }

  // 10,000 on SQLite; on PostgreSQL (every statement a network round trip) the same check with 2,000.
  const burst = usePostgres ? 2_000 : 10_000;
  it(`with jitter, ${burst} instances created in one second poll within the next minute, no second starting more than 2 % of them`, async () => {
    const perSecond = await pollsPerSecond(60, burst);
    const total = perSecond.reduce((a, b) => a + b, 0);
    const busiest = Math.max(...perSecond);
    console.log(
      `      ${burst} instances: ${total} polls in the first minute, busiest second ${busiest} (${((busiest / total) * 100).toFixed(2)} %), quietest ${Math.min(...perSecond)}`,
    );
    expect(total).to.equal(burst);
    expect(busiest).to.be.at.most(burst * 0.02);
  });

  it('without jitter the same burst polls in a single second (what jitter prevents)', async () => {
    const perSecond = await pollsPerSecond(0, 300);
    expect(perSecond.filter((n) => n > 0)).to.deep.equal([300]);
  });
});
