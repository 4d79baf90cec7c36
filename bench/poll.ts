import got from 'got';
import { benchGateway, benchInstance, listingFloor, startBenchProvider, throughputResult, timed, type Result } from './lib.js';

/**
 * Scenario 1, poll + diff + store: an emulated provider serves N records in pages of 100, all
 * changed after the instance was created. (a) the first poll turns them all into CREATED events,
 * (b) a second poll with nothing changed, (c) a poll where 1 % changed. Floor: fetching and
 * JSON.parse-ing the same pages with got, one page at a time like the poller, and nothing else.
 */
export async function pollScenario(database: 'sqlite' | 'postgres', records: number): Promise<Result[]> {
  const created = Date.now();
  // The records were changed one second after the instance was created.
  const provider = await startBenchProvider(records, created + 1000);
  const bench = await benchGateway(database);
  try {
    const { gateway } = bench;
    const instance = await benchInstance(gateway, provider.url, { pageSize: 100 });
    // The records were "changed" one second after creation: make that true for the gateway too.
    await gateway.db('instances').where({ id: instance.id }).update({ created_at: created });
    await gateway.db('poll_objects').where({ instance_id: instance.id }).update({ watermark: created });

    const floor = await timed(() => listingFloor(`${provider.url}/contacts`, { updated_since: new Date(created).toISOString() }, 100));
    const first = await timed(() => gateway.poller.pollNow(instance.id));
    const firstSummary = first.value.objects.contacts;
    if (firstSummary.created !== records) throw new Error(`first poll created ${firstSummary.created} of ${records}: ${JSON.stringify(firstSummary)}`);
    const second = await timed(() => gateway.poller.pollNow(instance.id));
    // Change 1 % of the records; the next poll re-reads everything since the previous start.
    const changed = Math.max(1, Math.floor(records / 100));
    for (let i = 1; i <= changed; i++) await got.patch(`${provider.url}/contacts/${((i * 97) % records) + 1}`, { json: { score: -1 } });
    const third = await timed(() => gateway.poller.pollNow(instance.id));
    if (third.value.objects.contacts.updated !== changed) throw new Error(`1% poll updated ${third.value.objects.contacts.updated} of ${changed}`);

    // The targets: on SQLite ≥ 50,000 records/s and at most 2× the floor's time; on PostgreSQL (a
    // server process on the same cores) at most 3× the floor's time.
    const target = database === 'sqlite' ? { minRate: 50_000, minRatio: 0.5 } : { minRatio: 1 / 3 };
    const row = (figure: string, ms: number): Result =>
      throughputResult({ scenario: 'poll+diff+store', database, figure, unit: 'records/s', count: records, ms, floorMs: floor.ms, ...target });
    return [row(`first poll, ${records} CREATED`, first.ms), row('second poll, nothing changed', second.ms), row('poll with 1 % changed', third.ms)];
  } finally {
    await bench.close();
    await provider.close();
  }
}
