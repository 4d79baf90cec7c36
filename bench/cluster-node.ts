import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfig, loadConfig, mergeDeep, type Config } from '../src/config/index.js';
import { silentLogger } from '../src/log.js';
import { Gateway } from '../src/main.js';
import { lagRecordingMetrics } from './lib.js';

/**
 * One gateway node of the scheduling scenarios, in a process of its own: `<database url> <schema
 * or -> <node id>`. Prints {"ready": true} once migrated, starts its loops on "start" (a line on
 * stdin) and, on "stop", stops and prints its figures: every tick lag (ms), polls done, peak RSS.
 */
const [url, schemaArg, nodeId] = process.argv.slice(2);
const dataDir = mkdtempSync(join(tmpdir(), 'pollgate-node-'));
const base = loadConfig({ env: {} }) as unknown as Record<string, unknown>;
const config: Config = checkConfig(
  mergeDeep(base, {
    node: { id: nodeId },
    database: { url: url.startsWith('postgres') ? url : `sqlite:${url}`, dataDir, poolMax: 10 },
    auth: { apiToken: 'bench-token-0123456789' },
    security: { secretKey: 'bench-secret-key-0123456789abcdef0123' },
    log: { level: 'silent' },
    // No phase alignment: a poll late by more than the jitter window would move to its phase slot,
    // which may come soon after; without it, two polls of one instance within half an interval are
    // a poll done twice.
    poller: { enabled: true, tickSeconds: 1, minIntervalSeconds: 1, jitterSeconds: 0 },
    delivery: { enabled: false },
    schedules: { enabled: false },
  }),
);
// Every poll's scheduling lag, as the poller reports it to its metrics.
const { metrics, lags: observed } = lagRecordingMetrics();
const gateway = await Gateway.create({ config, log: silentLogger, schema: schemaArg === '-' ? undefined : schemaArg, metrics });
let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
console.log(JSON.stringify({ ready: true }));
let polls = 0;
const lags: number[] = [];
// SQL statements sent from "start" on: per poll, the scheduling's own database cost.
let queries = 0;
let counting = false;
gateway.db.on('query', () => counting && queries++);
const drain = setInterval(() => {
  polls += observed.length;
  lags.push(...observed.splice(0));
}, 500);
// BENCH_SQL_TIMES=1: on exit, the statements that took the most time (from dispatch to answer,
// queueing on the connection included) go to stderr.
const sqlStarted = new Map<string, number>();
const sqlTimes = new Map<string, { n: number; ms: number }>();
if (process.env.BENCH_SQL_TIMES) {
  gateway.db.on('query', (q: { __knexQueryUid: string }) => sqlStarted.set(q.__knexQueryUid, performance.now()));
  gateway.db.on('query-response', (_: unknown, q: { __knexQueryUid: string; sql: string }) => {
    const at = sqlStarted.get(q.__knexQueryUid);
    sqlStarted.delete(q.__knexQueryUid);
    if (at === undefined || !counting) return;
    const kind = q.sql.replace(/\s+/g, ' ').slice(0, 80);
    const t = sqlTimes.get(kind) ?? sqlTimes.set(kind, { n: 0, ms: 0 }).get(kind)!;
    t.n++;
    t.ms += performance.now() - at;
  });
  process.on('exit', () => {
    for (const [kind, t] of [...sqlTimes].sort((a, b) => b[1].ms - a[1].ms).slice(0, 10))
      process.stderr.write(`${nodeId} SQL ${t.n}× ${Math.round(t.ms)} ms (${(t.ms / t.n).toFixed(2)} ms each) ${kind}\n`);
  });
}
// BENCH_CPU_PROF=<dir>: a CPU profile of the node from "start" to "stop" is written there.
const profiler = process.env.BENCH_CPU_PROF ? new Session() : undefined;
let buffered = '';
process.stdin.on('data', async (chunk) => {
  buffered += chunk;
  if (buffered.includes('start\n')) {
    buffered = buffered.replace('start\n', '');
    counting = true;
    if (profiler) {
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    }
    gateway.start();
  }
  if (buffered.includes('stop\n')) {
    clearInterval(drain);
    polls += observed.length;
    lags.push(...observed.splice(0));
    clearInterval(sampler);
    const heapMb = process.memoryUsage().heapUsed / 2 ** 20;
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(join(process.env.BENCH_CPU_PROF!, `node-${nodeId}-${process.pid}.cpuprofile`), JSON.stringify(profile));
    }
    await gateway.stop();
    rmSync(dataDir, { recursive: true, force: true });
    // A pipe is written asynchronously: exit once the (large: every lag) line is flushed, not before.
    process.stdout.write(`${JSON.stringify({ nodeId, polls, queries, lags, peakRssMb: peakRss / 2 ** 20, heapMb })}\n`, () => process.exit(0));
  }
});
