import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import got from 'got';
import knexFactory from 'knex';
import { checkConfig, loadConfig, mergeDeep, type Config } from '../src/config/index.js';
import { silentLogger } from '../src/log.js';
import { Gateway, type GatewayOptions } from '../src/main.js';
import { createMetrics } from '../src/metrics.js';

/** Shared pieces of the benchmark scenarios: a gateway on a fresh database, timing, results. */
export const PG_URL = process.env.POLLGATE_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The webhook connector of the ingress and latency scenarios: HMAC-signed bodies of `events[]`. */
export const HOOKS_CONNECTOR = {
  key: 'hooks',
  name: 'Hooks',
  configuration: [{ key: 'webhook_secret', required: true, secret: true }],
  events: {
    supported: ['webhook'],
    webhook: {
      signature: { scheme: 'hmac', algorithm: 'sha256', header: 'X-Signature', encoding: 'hex', secret: '<%= iparam.webhook_secret %>' },
      events: {
        itemsPath: '$.events[*]',
        objectType: '$.type',
        objectId: '$.id',
        eventType: { from: '$.action', map: { created: 'CREATED', updated: 'UPDATED' } },
      },
    },
  },
};

export interface Result {
  scenario: string;
  database: 'sqlite' | 'postgres' | 'none';
  figure: string;
  /** null when there is nothing to measure (the slowloris scenario: no request answered). */
  value: number | null;
  unit: string;
  floor: number | null;
  /** value / floor, so that ≥ target is good (for times the inverse is reported). */
  ratio: number | null;
  target: string;
  pass: boolean | null;
}

export async function benchGateway(database: 'sqlite' | 'postgres', overrides: Record<string, unknown> = {}, options: Partial<GatewayOptions> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'pollgate-bench-'));
  const schema = database === 'postgres' ? `bench_${randomBytes(4).toString('hex')}` : undefined;
  const base = loadConfig({ env: {} }) as unknown as Record<string, unknown>;
  const config: Config = checkConfig(
    mergeDeep(
      base,
      mergeDeep(
        {
          server: { port: 0, host: '127.0.0.1' },
          database: { url: database === 'postgres' ? PG_URL : null, dataDir, poolMax: 10 },
          auth: { apiToken: 'bench-token-0123456789' },
          security: { secretKey: 'bench-secret-key-0123456789abcdef0123' },
          log: { level: 'silent' },
          poller: { enabled: false, minIntervalSeconds: 1 },
          delivery: { enabled: false },
          schedules: { enabled: false },
        },
        overrides,
      ),
    ),
  );
  const gateway = await Gateway.create({ config, log: silentLogger, schema, ...options });
  const url = await gateway.listen(0, '127.0.0.1');
  return {
    gateway,
    url,
    dataDir,
    schema,
    async close() {
      await gateway.stop();
      if (schema) {
        const db = knexFactory({ client: 'pg', connection: PG_URL, pool: { min: 0, max: 1 } });
        await db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
        await db.destroy();
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A throughput row: `count` items in `ms`, against the floor's `floorMs` for the same items. It
 * passes at ≥ `minRatio` (0.5 unless given) of the floor's rate, and at ≥ `minRate` items/s when
 * the target names one.
 */
export function throughputResult(o: {
  scenario: string;
  database: Result['database'];
  figure: string;
  unit: string;
  count: number;
  ms: number;
  floorMs: number;
  minRate?: number;
  minRatio?: number;
}): Result {
  const minRatio = o.minRatio ?? 0.5;
  const ratioTarget = `≥ ${minRatio === 0.5 ? '0.5' : minRatio.toFixed(2)}× floor`;
  const rate = (o.count / o.ms) * 1000;
  const floorRate = (o.count / o.floorMs) * 1000;
  const ratio = rate / floorRate;
  return {
    scenario: o.scenario,
    database: o.database,
    figure: o.figure,
    value: Math.round(rate),
    unit: o.unit,
    floor: Math.round(floorRate),
    ratio: +ratio.toFixed(2),
    target: o.minRate === undefined ? ratioTarget : `≥ ${o.minRate.toLocaleString('en-US')} ${o.unit} and ${ratioTarget}`,
    pass: ratio >= minRatio && (o.minRate === undefined || rate >= o.minRate),
  };
}

/** How long `fn` took, and the CPU this process used meanwhile (all threads, µs: it holds steadier than time on a busy machine). */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; cpuMicros: number; value: T }> {
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const value = await fn();
  const used = process.cpuUsage(cpu);
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, cpuMicros: used.user + used.system, value };
}

/**
 * The gateway's metrics, with every poll's scheduling lag (poll start − due time, ms) also kept in
 * `lags` for exact percentiles (the histogram's buckets are too coarse for them).
 */
export function lagRecordingMetrics() {
  const metrics = createMetrics();
  const lags: number[] = [];
  const observe = metrics.pollLag.observe.bind(metrics.pollLag);
  metrics.pollLag.observe = ((seconds: number) => {
    lags.push(seconds * 1000);
    observe(seconds);
  }) as typeof metrics.pollLag.observe;
  return { metrics, lags };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export function machine() {
  return { cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
}

/**
 * The emulated provider in a process of its own (bench/provider-process.ts), so that serving pages
 * takes no CPU from what is measured: `records` contacts, all created and changed at `at`.
 */
export async function startBenchProvider(records: number, at: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./provider-process.ts', import.meta.url).pathname, String(records), String(at)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d) => resolve(JSON.parse(String(d)).url));
    child.once('exit', (code) => reject(new Error(`the provider process exited with ${code}`)));
  });
  return { url, close: () => new Promise<void>((r) => (child.once('exit', () => r()), child.kill('SIGTERM'))) };
}

/**
 * Fetches and parses every page of a listing with got, one page at a time, and nothing else: the
 * floor of the poll scenarios. Over kept-alive connections, as the poller's own requests are
 * (src/network/outbound.ts): a floor that opened a connection per page would be a slowed-down one.
 */
export async function listingFloor(url: string, searchParams: Record<string, string | number>, pageSize: number): Promise<number> {
  const agent = { http: new http.Agent({ keepAlive: true, maxSockets: 1 }) };
  let n = 0;
  for (let page = 1; ; page++) {
    const body = await got(url, { agent, searchParams: { ...searchParams, page, per_page: pageSize } }).text();
    const rows = JSON.parse(body) as unknown[];
    n += rows.length;
    if (rows.length < pageSize) {
      agent.http.destroy();
      return n;
    }
  }
}

/**
 * Registers the bench connector (contacts of the bench provider, page pagination of `pageSize`,
 * a poller URL filtered by updated_at) and creates one instance of it polling `providerUrl`.
 */
export async function benchInstance(
  gateway: Gateway,
  providerUrl: string,
  contacts: { pageSize: number; deletes?: boolean; maxPages?: number },
  callbackUrl = 'http://127.0.0.1:9/never',
) {
  const pagination = {
    type: 'page',
    pageParam: 'page',
    sizeParam: 'per_page',
    size: contacts.pageSize,
    ...(contacts.maxPages ? { maxPages: contacts.maxPages } : {}),
  };
  if (!gateway.connectors.get('bench'))
    await gateway.ctx.catalog.save(
      {
        key: 'bench',
        name: 'Bench',
        hub: 'crm',
        configuration: [{ key: 'base_url', required: true }],
        baseUrl: '<%= iparam.base_url %>',
        resources: {
          contacts: { path: '/contacts', idField: 'id', deletes: contacts.deletes ?? false, where: { 'updated_at>': { param: 'updated_since' } }, pagination },
        },
        events: {
          supported: ['polling'],
          poller: { contacts: { url: "/hubs/crm/contacts?where=updated_at>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSS'Z'}'", idField: 'id' } },
        },
      },
      'bench',
    );
  return gateway.instances.create({
    element: { key: 'bench' },
    configuration: { base_url: providerUrl, 'event.poller.refresh_interval': '60', 'event.notification.callback.url': callbackUrl },
  });
}

/** A bench process (a server, the attacker): the url its first JSON line gives, `ask` for its counts. */
export interface BenchProcess {
  url: string;
  /** SIGTERM; resolves when it has exited. */
  stop: () => Promise<void>;
  /** SIGUSR2; resolves to the JSON line it prints. */
  ask: () => Promise<string>;
}

/** Starts a bench process; resolves when its first JSON line gives its url. */
export function startBenchProcess(script: URL, args: string[]): Promise<BenchProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', script.pathname, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const lines: Array<(line: string) => void> = [];
  child.stdout.on('data', (d) => {
    out += d;
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      if (line.startsWith('{')) lines.shift()?.(line);
    }
  });
  const nextLine = () => new Promise<string>((r) => lines.push(r));
  return new Promise<BenchProcess>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${script} ${args.join(' ')} exited with ${code}`)));
    void nextLine().then((line) =>
      resolve({
        url: JSON.parse(line).url,
        stop: () => new Promise<void>((r) => (child.once('exit', () => r()), child.kill('SIGTERM'))),
        ask: () => {
          const line = nextLine();
          child.kill('SIGUSR2');
          return line;
        },
      }),
    );
  });
}
