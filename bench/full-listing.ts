import got from 'got';
import { benchGateway, benchInstance, listingFloor, startBenchProvider, throughputResult, timed, type Result } from './lib.js';

const PAGE_SIZE = 1000;
const DAY = 86_400_000;

/**
 * Scenario 2, full listings for delete detection: an emulated provider serves N records, all older
 * than the instance, in pages of 1,000, to an object with `"deletes": true` and a full listing at
 * every poll. (a) the first full listing meets every record for the first time and stores them as
 * a silent baseline; 0.1 % of the records are then deleted at the provider; (b) the next listing
 * misses them once; (c) the one after raises their DELETED. Figures: records/s of each listing,
 * and the process's peak RSS over the whole run (the listing streams: it must not grow with N).
 * Floor: fetching and JSON.parse-ing the same pages with got, one page at a time.
 */
export async function fullListingScenario(database: 'sqlite' | 'postgres', records: number): Promise<Result[]> {
  const provider = await startBenchProvider(records, Date.now() - DAY);
  const bench = await benchGateway(database, { poller: { fullListingIntervalMinutes: 0 } });
  try {
    const { gateway } = bench;
    const instance = await benchInstance(gateway, provider.url, { pageSize: PAGE_SIZE, deletes: true, maxPages: Math.ceil(records / PAGE_SIZE) + 10 });
    const poll = async () => (await gateway.poller.pollNow(instance.id)).objects.contacts;
    const check = (what: string, ok: boolean, summary: unknown) => {
      if (!ok) throw new Error(`${what}: ${JSON.stringify(summary)}`);
    };

    const floor = await timed(() => listingFloor(`${provider.url}/contacts`, { updated_since: new Date(0).toISOString() }, PAGE_SIZE));
    // The first poll asks for changes since the instance was created: none.
    const first = await poll();
    check('the first poll found records', first.fetched === 0 && !first.error, first);

    const baseline = await timed(poll);
    check(
      'the first full listing did not store a silent baseline',
      baseline.value.fetched === records && baseline.value.created + baseline.value.updated === 0,
      baseline.value,
    );
    const removed = Math.max(1, Math.floor(records / 1000));
    for (let i = 1; i <= removed; i++) await got.delete(`${provider.url}/contacts/${((i * 997) % records) + 1}`);
    const missedOnce = await timed(poll);
    check('the second full listing deleted early', missedOnce.value.deleted === 0 && !missedOnce.value.error, missedOnce.value);
    const sweep = await timed(poll);
    check('the third full listing did not delete', sweep.value.deleted === removed, sweep.value);
    const peakMb = process.resourceUsage().maxRSS / 1024;

    const row = (figure: string, ms: number): Result =>
      throughputResult({ scenario: 'full listing', database, figure, unit: 'records/s', count: records, ms, floorMs: floor.ms });
    return [
      row(`first full listing, ${records} records as baseline (0 events)`, baseline.ms),
      row(`next full listing, ${removed} gone (missed once)`, missedOnce.ms),
      row(`next full listing, ${removed} DELETED`, sweep.ms),
      {
        scenario: 'full listing',
        database,
        figure: `peak RSS over the run (${records} records in pages of ${PAGE_SIZE})`,
        value: Math.round(peakMb),
        unit: 'MB',
        floor: null,
        ratio: null,
        target: '< 300 MB',
        pass: peakMb < 300,
      },
    ];
  } finally {
    await bench.close();
    await provider.close();
  }
}
