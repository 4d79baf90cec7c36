import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { machine, type Result } from './lib.js';

/**
 * `npm run bench` runs every scenario and prints one table, ratios to the floor measured in the
 * same run first; `npm run bench -- --quick` runs each at a small size (a smoke test: CI checks only
 * that every scenario completes and yields its figures). Results go to bench/results.json.
 */
const quick = process.argv.includes('--quick');
const size = quick
  ? {
      records: 2000,
      listingRecords: 20_000,
      ingressSeconds: 2,
      events: 1000,
      instances: 200,
      interval: 5,
      schedulerSeconds: 8,
      capacity: 1000,
      clusterInstances: 300,
      clusterSeconds: 12,
      slowlorisSeconds: 2,
      clientRequests: 2000,
      latencySeconds: 2,
      latencyPolls: 3,
    }
  : {
      records: 100_000,
      listingRecords: 1_000_000,
      ingressSeconds: 10,
      events: 20_000,
      instances: 10_000,
      interval: 60,
      schedulerSeconds: 120,
      capacity: 100_000,
      clusterInstances: 30_000,
      clusterSeconds: 130,
      slowlorisSeconds: 15,
      clientRequests: 20_000,
      latencySeconds: 10,
      latencyPolls: 20,
    };

// Each scenario runs in a process of its own (bench/scenario.ts), so that its memory and CPU
// figures are its own.
async function scenario(...args: Array<string | number>): Promise<Result[]> {
  const script = new URL('./scenario.ts', import.meta.url).pathname;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, ...args.map(String)], { maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Result[];
}

const steps: Array<[string, () => Promise<Result[]>]> = [
  ['poll+diff+store on SQLite', () => scenario('poll', 'sqlite', size.records)],
  ['poll+diff+store on PostgreSQL', () => scenario('poll', 'postgres', size.records)],
  ['full listing on SQLite', () => scenario('full-listing', 'sqlite', size.listingRecords)],
  ['full listing on PostgreSQL', () => scenario('full-listing', 'postgres', size.listingRecords)],
  ['webhook ingress on SQLite', () => scenario('ingress', 'sqlite', size.ingressSeconds)],
  ['webhook ingress with delivery on SQLite', () => scenario('ingress-delivery', 'sqlite', size.ingressSeconds)],
  ['webhook ingress with delivery on PostgreSQL', () => scenario('ingress-delivery', 'postgres', size.ingressSeconds)],
  ['delivery on SQLite', () => scenario('delivery', 'sqlite', size.events)],
  ['outbound client: got, undici, node:http', () => scenario('clients', 'sqlite', size.clientRequests)],
  ['webhook → callback latency at 200/s on SQLite', () => scenario('latency-webhooks', 'sqlite', size.latencySeconds, 200)],
  ['poll commit → callback latency on SQLite', () => scenario('latency-poll', 'sqlite', size.latencyPolls, 500)],
  ['webhook → callback latency at 200/s on 3 PostgreSQL nodes', () => scenario('latency-cluster', 'postgres', size.latencySeconds, 200)],
  ['delivery on PostgreSQL', () => scenario('delivery', 'postgres', size.events)],
  ['scheduler at scale on SQLite', () => scenario('scheduler', 'sqlite', size.instances, size.interval, size.schedulerSeconds)],
  ['capacity of one node on SQLite', () => scenario('capacity', 'sqlite', size.capacity, size.interval, size.clusterSeconds)],
  ['3 nodes on PostgreSQL', () => scenario('cluster', 'postgres', 3, size.clusterInstances, size.interval, size.clusterSeconds)],
  // The attack of 1,100 trickling sockets from one client address; spread over 32 addresses (each
  // under the per-address cap) only in the full run.
  ['slowloris from one address on SQLite', () => scenario('slowloris', 'sqlite', size.slowlorisSeconds, 1100, 1)],
];
steps.push(["draft a connector from GitHub's OpenAPI description", () => scenario('draft', 'none')]);
if (!quick) steps.push(['slowloris from 32 addresses on SQLite', () => scenario('slowloris', 'sqlite', size.slowlorisSeconds, 1100, 32)]);

const results: Result[] = [];
const failures: string[] = [];
for (const [name, run] of steps) {
  process.stderr.write(`bench: ${name}…\n`);
  try {
    results.push(...(await run()));
  } catch (err) {
    failures.push(`${name}: ${(err as Error).message}`);
  }
}

const fmt = (n: number | null) => (n === null ? '—' : n.toLocaleString('en-US'));
const rows = results.map((r) => [
  r.scenario,
  r.database,
  r.figure,
  `${fmt(r.value)} ${r.unit}`,
  r.floor === null ? '—' : `${fmt(r.floor)} ${r.unit}`,
  r.ratio === null ? '—' : `${r.ratio}×`,
  r.target,
  r.pass === null ? '—' : r.pass ? 'pass' : 'short',
]);
const header = ['scenario', 'db', 'figure', 'value', 'floor', 'ratio', 'target', 'result'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
const m = machine();
console.log(`\npollgate bench${quick ? ' (quick)' : ''} — ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, Node ${m.node}\n`);
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
writeFileSync(
  new URL('./results.json', import.meta.url),
  `${JSON.stringify({ date: new Date().toISOString(), quick, machine: m, results, failures }, null, 2)}\n`,
);
if (failures.length) {
  console.error(`\n${failures.length} scenario(s) failed:\n${failures.join('\n')}`);
  process.exit(1);
}
