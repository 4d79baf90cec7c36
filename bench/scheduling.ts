import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import got from 'got';
import type { Knex } from 'knex';
import { isPostgres } from '../src/db/index.js';
import { benchGateway, PG_URL, percentile, type Result } from './lib.js';

/**
 * The scheduling scenarios: gateway nodes in processes of their own (bench/cluster-node.ts) polling
 * N instances every interval against one emulated provider process (bench/cluster-provider.ts) that
 * answers an empty page at once and logs which instance asked when. Instances are made by copying
 * one created through the gateway (only its base URL differs: /n/<k>), their first polls spread
 * evenly over one interval. Figures: tick lag (claim − due) over all nodes, each node's peak RSS,
 * from the provider's log the instances polled every interval (no gap longer than an interval plus
 * the 1 s tick-lag bound, from the run's start to its end) and polls done twice (two requests of
 * one instance less than half an interval apart).
 *
 * - capacity (SQLite, one node): N instances a minute is within the node's capacity when every one
 *   of them is polled every interval; otherwise its capacity is the polls it made in the second.
 * - cluster (PostgreSQL, 3 nodes sharing the instances): tick lag p99, RSS per node, no double poll.
 */
interface NodeReport {
  nodeId: string;
  polls: number;
  queries: number;
  lags: number[];
  peakRssMb: number;
  heapMb: number;
}

/** A poll started within this of its due time is on time (the tick-lag target). */
const LAG_BOUND_MS = 1000;

async function startProcess(
  script: string,
  args: string[],
): Promise<{ child: ChildProcess; first: Promise<Record<string, unknown>>; lines: AsyncIterator<string> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL(script, import.meta.url).pathname, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = lines.next().then((l) => {
    if (l.done) throw new Error(`${script} exited before it was ready`);
    return JSON.parse(l.value) as Record<string, unknown>;
  });
  return { child, first, lines };
}

/** N − 1 copies of instance `id` and of its poll_objects rows, told apart by `/n/<k>` in the base URL. */
async function copyInstance(db: Knex, id: number, copies: number): Promise<void> {
  const instanceColumns = Object.keys(await db('instances').columnInfo()).filter((c) => c !== 'id' && c !== 'webhook_token');
  const pollColumns = Object.keys(await db('poll_objects').columnInfo()).filter((c) => c !== 'id' && c !== 'instance_id');
  const q = (c: string) => `"${c}"`;
  const value = (c: string) =>
    c === 'configuration' ? `replace(configuration, '/n/0"', '/n/' || seq.k || '"')` : c === 'name' ? `name || ' ' || seq.k` : q(c);
  await db.raw(
    `with recursive seq(k) as (select 1 union all select k + 1 from seq where k < ?)
     insert into instances (${instanceColumns.map(q).join(',')}) select ${instanceColumns.map(value).join(',')} from instances, seq where instances.id = ?`,
    [copies, id],
  );
  await db.raw(
    `insert into poll_objects (instance_id, ${pollColumns.map(q).join(',')}) select i.id, ${pollColumns.map((c) => `p.${q(c)}`).join(',')} from instances i join poll_objects p on p.instance_id = ? where i.id <> ?`,
    [id, id],
  );
}

export async function schedulingRun(o: { database: 'sqlite' | 'postgres'; nodes: number; instances: number; intervalSeconds: number; seconds: number }) {
  const provider = await startProcess('./cluster-provider.ts', []);
  const providerUrl = (await provider.first).url as string;
  const bench = await benchGateway(o.database);
  const children: ChildProcess[] = [provider.child];
  try {
    const { gateway } = bench;
    const db = gateway.db;
    // Saved in the database (not only registered in memory) so that every node knows it.
    await gateway.ctx.catalog.save(
      {
        key: 'sched',
        name: 'Scheduling',
        configuration: [{ key: 'base_url', required: true }],
        baseUrl: '<%= iparam.base_url %>',
        events: { supported: ['polling'], poller: { items: { url: '/items?since=${epoch:s}', idField: 'id' } } },
      },
      'bench',
    );
    const first = await gateway.instances.create({
      element: { key: 'sched' },
      configuration: { base_url: `${providerUrl}/n/0`, 'event.poller.refresh_interval': String(o.intervalSeconds / 60) },
    });
    await copyInstance(db, first.id, o.instances - 1);
    await db('poll_objects').update({ next_poll_at: Number.MAX_SAFE_INTEGER });

    const target = isPostgres(db) ? PG_URL : join(bench.dataDir, 'pollgate.db');
    const nodes = await Promise.all(
      Array.from({ length: o.nodes }, (_, i) => startProcess('./cluster-node.ts', [target, bench.schema ?? '-', `bench-node-${i + 1}`])),
    );
    children.push(...nodes.map((n) => n.child));
    await Promise.all(nodes.map((n) => n.first));

    // The first polls spread evenly over one interval from `start`.
    const intervalMs = o.intervalSeconds * 1000;
    const start = Date.now() + 2000;
    const [{ min }] = (await db('poll_objects').min({ min: 'id' })) as Array<{ min: number }>;
    await db.raw('update poll_objects set next_poll_at = ? + cast(id - ? as bigint) * ? / ?', [start, min, intervalMs, o.instances]);
    for (const n of nodes) n.child.stdin!.write('start\n');
    await new Promise((r) => setTimeout(r, start - Date.now() + o.seconds * 1000));
    const reports = await Promise.all(
      nodes.map(async (n) => {
        n.child.stdin!.write('stop\n');
        // Knex may print a warning of its own while the node stops: the figures are the JSON line.
        for (let line = await n.lines.next(); !line.done; line = await n.lines.next())
          if (line.value.startsWith('{')) return JSON.parse(line.value) as NodeReport;
        throw new Error('a node exited without its figures');
      }),
    );
    const log = (await got(`${providerUrl}/log`).json()) as Array<[number, number]>;

    // From the provider's log: who was polled every interval, and polls done twice. "Every interval"
    // is judged per instance, by the gaps between its polls — a fixed window would count an instance
    // due in the window's last milliseconds as missed when its poll started a few ms late.
    const byInstance = new Map<number, number[]>();
    for (const [k, at] of log) (byInstance.get(k) ?? byInstance.set(k, []).get(k)!).push(at);
    const windowStart = start + intervalMs;
    const end = start + o.seconds * 1000;
    const longestGap = intervalMs + LAG_BOUND_MS;
    let doubles = 0;
    let polledEveryInterval = 0;
    let requestsInWindow = 0;
    for (const times of byInstance.values()) {
      times.sort((a, b) => a - b);
      for (let i = 1; i < times.length; i++) if (times[i] - times[i - 1] < intervalMs / 2) doubles++;
      requestsInWindow += times.filter((t) => t >= windowStart && t < windowStart + intervalMs).length;
      const gaps = [times[0] - start, ...times.slice(1).map((t, i) => t - times[i]), end - times[times.length - 1]];
      if (gaps.every((g) => g <= longestGap)) polledEveryInterval++;
    }
    const lags = reports.flatMap((r) => r.lags);
    return { reports, lags, doubles, polledEveryInterval, requestsInWindow };
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await bench.close();
  }
}

/** One node on SQLite: is N instances a minute within its capacity, and at what RSS? */
export async function capacityScenario(instances: number, intervalSeconds: number, seconds: number): Promise<Result[]> {
  const run = await schedulingRun({ database: 'sqlite', nodes: 1, instances, intervalSeconds, seconds });
  const [node] = run.reports;
  const perMinute = Math.round((run.requestsInWindow * 60) / intervalSeconds);
  const all = run.polledEveryInterval === instances;
  const capacity = all ? Math.round((instances * 60) / intervalSeconds) : perMinute;
  const p99 = percentile(run.lags, 99) / 1000;
  const perPoll = (node.queries / Math.max(1, node.polls)).toFixed(2);
  const label = `${instances} instances every ${intervalSeconds} s, ${run.polledEveryInterval} polled every interval, ${perPoll} SQL statements a poll`;
  return [
    {
      scenario: 'capacity, one node',
      database: 'sqlite',
      figure: `instances polled a minute (${label}; tick lag p99 ${p99.toFixed(3)} s)`,
      value: capacity,
      unit: 'instances/min',
      floor: null,
      ratio: null,
      target: '≥ 100,000',
      pass: capacity >= 100_000,
    },
    {
      scenario: 'capacity, one node',
      database: 'sqlite',
      figure: `node peak RSS (heap ${Math.round(node.heapMb)} MB at the end)`,
      value: Math.round(node.peakRssMb),
      unit: 'MB',
      floor: null,
      ratio: null,
      target: '< 400 MB',
      pass: node.peakRssMb < 400,
    },
  ];
}

/** 3 nodes on PostgreSQL sharing N instances. */
export async function clusterScenario(nodes: number, instances: number, intervalSeconds: number, seconds: number): Promise<Result[]> {
  const run = await schedulingRun({ database: 'postgres', nodes, instances, intervalSeconds, seconds });
  const p50 = percentile(run.lags, 50) / 1000;
  const p99 = percentile(run.lags, 99) / 1000;
  const maxRss = Math.max(...run.reports.map((r) => r.peakRssMb));
  const polls = run.reports.reduce((n, r) => n + r.polls, 0);
  const perPoll = (run.reports.reduce((n, r) => n + r.queries, 0) / Math.max(1, polls)).toFixed(2);
  const label = `${nodes} nodes, ${instances} instances every ${intervalSeconds} s for ${seconds} s, ${perPoll} SQL statements a poll`;
  return [
    {
      scenario: 'cluster',
      database: 'postgres',
      figure: `tick lag p99 (${label}; p50 ${p50.toFixed(3)} s; polls per node ${run.reports.map((r) => r.polls).join('/')})`,
      value: +p99.toFixed(3),
      unit: 's',
      floor: null,
      ratio: null,
      target: '< 1 s',
      pass: p99 < 1,
    },
    {
      scenario: 'cluster',
      database: 'postgres',
      figure: `largest node peak RSS (${run.reports.map((r) => Math.round(r.peakRssMb)).join('/')} MB)`,
      value: Math.round(maxRss),
      unit: 'MB',
      floor: null,
      ratio: null,
      target: '< 300 MB',
      pass: maxRss < 300,
    },
    {
      scenario: 'cluster',
      database: 'postgres',
      figure: `polls done twice (provider log; ${run.polledEveryInterval} of ${instances} polled every interval)`,
      value: run.doubles,
      unit: 'polls',
      floor: null,
      ratio: null,
      target: '0, and every instance polled each interval',
      pass: run.doubles === 0 && run.polledEveryInterval === instances,
    },
  ];
}
