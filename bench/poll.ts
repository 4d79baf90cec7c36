import got from 'got';
import { benchGateway, benchInstance, listingFloor, startBenchProcess, startBenchProvider, throughputResult, timed, type Result } from './lib.js';

/**
 * Scenario 1, poll + diff + store: an emulated provider serves N records in pages of 100, all
 * changed after the instance was created. (a) the first poll turns them all into CREATED events,
 * (b) a second poll with nothing changed, (c) a poll where 1 % changed. Floor: fetching and
 * JSON.parse-ing the same pages with got, one page at a time like the poller, and nothing else.
 * (d) The first poll again, on a fresh database, with delivery running: the dispatcher sends the
 * poll's notifications to a loopback receiver (bench/receiver-server.ts, its own process) while the
 * poll goes on; the time is until the poll completes, against the same floor (target ≤ 2.5× its
 * time). After it, the scenario waits for the receiver to have every event and says how long that took.
 */
export async function pollScenario(database: 'sqlite' | 'postgres', records: number): Promise<Result[]> {
  const created = Date.now();
  // The records were changed one second after the instance was created.
  const provider = await startBenchProvider(records, created + 1000);
  const bench = await benchGateway(database);
  let closed = false;
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
    const rows = [row(`first poll, ${records} CREATED`, first.ms), row('second poll, nothing changed', second.ms), row('poll with 1 % changed', third.ms)];
    closed = true;
    await bench.close();
    rows.push(await firstPollWithDelivery(database, records, provider.url, created, floor.ms));
    return rows;
  } finally {
    if (!closed) await bench.close();
    await provider.close();
  }
}

interface ReceiverCount {
  requests: number;
  notifications: number;
  events: number;
}

async function firstPollWithDelivery(database: 'sqlite' | 'postgres', records: number, providerUrl: string, created: number, floorMs: number): Promise<Result> {
  const receiver = await startBenchProcess(new URL('./receiver-server.ts', import.meta.url), []);
  const bench = await benchGateway(database, { delivery: { enabled: true } });
  try {
    const { gateway } = bench;
    gateway.start();
    const instance = await benchInstance(gateway, providerUrl, { pageSize: 100 }, receiver.url);
    await gateway.db('instances').where({ id: instance.id }).update({ created_at: created });
    await gateway.db('poll_objects').where({ instance_id: instance.id }).update({ watermark: created });
    gateway.instances.invalidate(instance.id);
    const poll = await timed(() => gateway.poller.pollNow(instance.id));
    const pollEnded = Date.now();
    const summary = poll.value.objects.contacts;
    if (summary.created !== records) throw new Error(`first poll with delivery created ${summary.created} of ${records}: ${JSON.stringify(summary)}`);
    // Every event must reach the receiver; gives up when nothing arrives for 10 s.
    const countUrl = new URL('/count', receiver.url).toString();
    let count = await got(countUrl).json<ReceiverCount>();
    const sentDuringPoll = count.events;
    let lastChange = Date.now();
    while (count.events < records && Date.now() - lastChange < 10_000) {
      await new Promise((r) => setTimeout(r, 100));
      const next = await got(countUrl).json<ReceiverCount>();
      if (next.events !== count.events) lastChange = Date.now();
      count = next;
    }
    if (count.events < records) throw new Error(`first poll with delivery: ${count.events} of ${records} events reached the receiver`);
    const drainedMs = Date.now() - pollEnded;
    const result = throughputResult({
      scenario: 'poll+diff+store',
      database,
      figure: `first poll, ${records} CREATED, delivery running (${sentDuringPoll} events delivered during the poll, all ${count.events} in ${count.notifications} notifications ${((poll.ms + drainedMs) / 1000).toFixed(1)} s after it started)`,
      unit: 'records/s',
      count: records,
      ms: poll.ms,
      floorMs,
      minRatio: 0.4,
    });
    return { ...result, target: "≤ 2.5× the floor's time (≥ 0.40× floor)" };
  } finally {
    await bench.close();
    await receiver.stop();
  }
}
