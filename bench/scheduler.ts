import { EmulatedProvider } from '../sandbox/provider-server.js';
import { benchGateway, lagRecordingMetrics, percentile, type Result } from './lib.js';

/**
 * Scenario 4, the scheduler at scale: N instances polled every interval against a provider that
 * answers an empty page at once. Over the run: tick lag (claim time − due time) p50/p99, the
 * process's CPU share and peak RSS.
 */
export async function schedulerScenario(instances: number, intervalSeconds: number, seconds: number): Promise<Result[]> {
  const provider = await EmulatedProvider.start();
  provider.recordRequests = false;
  provider.route('GET', '/empty', () => ({ status: 200, body: [] }));
  const recorded = lagRecordingMetrics();
  const bench = await benchGateway(
    'sqlite',
    { poller: { enabled: true, tickSeconds: 1, minIntervalSeconds: 1, concurrency: 32 } },
    { metrics: recorded.metrics },
  );
  try {
    const { gateway } = bench;
    await gateway.ctx.catalog.save(
      {
        key: 'empty',
        name: 'Empty',
        configuration: [{ key: 'base_url', required: true }],
        baseUrl: '<%= iparam.base_url %>',
        events: { supported: ['polling'], poller: { items: { url: '/empty?since=${epoch:s}', idField: 'id' } } },
      },
      'bench',
    );
    for (let i = 0; i < instances; i++) {
      await gateway.instances.create({
        element: { key: 'empty' },
        configuration: { base_url: provider.url, 'event.poller.refresh_interval': String(intervalSeconds / 60) },
      });
    }
    // Spread the first polls over one interval, as instances created over time would be.
    const start = Date.now() + 1000;
    const ids = (await gateway.db('poll_objects').select('id')) as Array<{ id: number }>;
    await gateway.db.transaction(async (trx) => {
      for (const [i, { id }] of ids.entries())
        await trx('poll_objects')
          .where({ id })
          .update({ next_poll_at: start + Math.floor((i / ids.length) * intervalSeconds * 1000) });
    });
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
    const cpu0 = process.cpuUsage();
    const t0 = Date.now();
    recorded.lags.length = 0;
    gateway.start();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const cpu = process.cpuUsage(cpu0);
    const wall = Date.now() - t0;
    clearInterval(sampler);
    const lags = [...recorded.lags];
    const p50 = percentile(lags, 50) / 1000;
    const p99 = percentile(lags, 99) / 1000;
    const cpuShare = (cpu.user + cpu.system) / 1000 / wall;
    const rssMb = peakRss / 2 ** 20;
    const label = `${instances} instances every ${intervalSeconds} s for ${seconds} s, ${lags.length} polls`;
    return [
      {
        scenario: 'scheduler at scale',
        database: 'sqlite',
        figure: `tick lag p99 (${label}; p50 ${p50.toFixed(3)} s)`,
        value: +p99.toFixed(3),
        unit: 's',
        floor: null,
        ratio: null,
        target: '< 1 s',
        pass: p99 < 1,
      },
      {
        scenario: 'scheduler at scale',
        database: 'sqlite',
        figure: `peak RSS (CPU share ${(cpuShare * 100).toFixed(0)} % of one core)`,
        value: Math.round(rssMb),
        unit: 'MB',
        floor: null,
        ratio: null,
        target: '< 300 MB',
        pass: rssMb < 300,
      },
    ];
  } finally {
    await bench.close();
    await provider.close();
  }
}
