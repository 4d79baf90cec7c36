import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import Koa from 'koa';
import getRawBody from 'raw-body';
import { Agent as UndiciAgent } from 'undici';
import { benchGateway, HOOKS_CONNECTOR } from './lib.js';

/**
 * A server for the ingress scenarios, in its own process. Modes:
 * - `node`: a bare node:http handler that parses the JSON body and answers 202 (the floor);
 * - `koa`: the same in a bare koa app (a second reference);
 * - `forward`: the floor of ingress with delivery — the `node` handler, which after its 202 POSTs
 *   each body to the callback URL (3rd argument) with an undici Agent (keep-alive; undici is the
 *   fastest client of the `clients` scenario, and the engine of src/network/outbound.ts). No
 *   pollgate code: no store, no mapping, no retry; a failed send is only counted. Counts on
 *   SIGUSR2: receipts (bodies answered), forwarded, failed;
 * - `gateway`: pollgate with a webhook-mode instance, signature check and the durable store;
 *   with a callback URL as 3rd argument its background loops run too — the webhook processor maps
 *   each stored body to an event and the dispatcher delivers it to that URL. On SIGTERM it prints
 *   one JSON line of counts (receipts, processed, events, delivered) before it exits.
 * Prints one JSON line {url} when it serves.
 */
const mode = process.argv[2];
const database = (process.argv[3] ?? 'sqlite') as 'sqlite' | 'postgres';
const callbackUrl = process.argv[4];

// SIGUSR2: one JSON line with the CPU time this process used so far (all threads, µs), and for the
// gateway its counts. The scenario divides CPU by requests: a cost per request that, unlike req/s,
// holds steady when other work shares the machine.
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
let counts: () => Promise<Record<string, number>> = async () => ({});
process.on('SIGUSR2', () => void counts().then((c) => console.log(JSON.stringify({ cpuMicros: cpu(), ...c }))));

function accepted(raw: Buffer): string {
  const body = JSON.parse(raw.toString('utf8'));
  return JSON.stringify({ status: 'accepted', items: Array.isArray(body.events) ? body.events.length : 0 });
}

if (mode === 'node') {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res.writeHead(202, { 'content-type': 'application/json' }).end(accepted(Buffer.concat(chunks))));
  });
  server.listen(0, '127.0.0.1', () => {
    console.log(JSON.stringify({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks/bare` }));
  });
} else if (mode === 'forward') {
  // At most 4 sockets to the receiver, as pollgate's per-origin pool (delivery.maxConcurrencyPerOrigin);
  // the requests beyond them wait in undici's queue.
  const agent = new UndiciAgent({ connections: 4, keepAliveTimeout: 10_000 });
  const target = new URL(process.argv[4]);
  let receipts = 0;
  let forwarded = 0;
  let failed = 0;
  const forward = (body: Buffer, id: number) =>
    agent
      .request({
        origin: target.origin,
        path: target.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'webhook-id': `forward-${id}` },
        body,
      })
      .then(async (res) => {
        await res.body.dump();
        if (res.statusCode < 300) forwarded++;
        else failed++;
      })
      .catch(() => failed++);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(202, { 'content-type': 'application/json' }).end(accepted(body));
      void forward(body, ++receipts);
    });
  });
  counts = async () => ({ receipts, forwarded, failed });
  server.listen(0, '127.0.0.1', () => {
    console.log(JSON.stringify({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks/bare` }));
  });
} else if (mode === 'koa') {
  const app = new Koa();
  app.use(async (ctx) => {
    const body = accepted(await getRawBody(ctx.req, { limit: 5 * 1024 * 1024 }));
    ctx.status = 202;
    ctx.type = 'application/json';
    ctx.body = body;
  });
  const server = app.listen(0, '127.0.0.1', () => {
    console.log(JSON.stringify({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks/bare` }));
  });
} else if (mode === 'gateway') {
  const delivering = Boolean(callbackUrl);
  const bench = await benchGateway(database, {
    webhooks: { rateLimitPerMinute: 10_000_000 },
    ...(delivering ? { delivery: { enabled: true } } : {}),
  });
  const { gateway } = bench;
  await gateway.ctx.catalog.save(HOOKS_CONNECTOR, 'bench');
  const instance = await gateway.instances.create({
    element: { key: 'hooks' },
    configuration: {
      webhook_secret: 'bench-secret',
      'event.vendor.type': 'webhook',
      ...(delivering ? { 'event.notification.callback.url': callbackUrl } : {}),
    },
  });
  if (delivering) gateway.start();
  // BENCH_CPU_PROF=<dir>: a CPU profile of the gateway from here (start-up left out) to SIGTERM.
  const profiler = process.env.BENCH_CPU_PROF ? new Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  console.log(JSON.stringify({ url: `${bench.url}/hooks/${instance.webhookToken}` }));
  const db = gateway.db;
  const count = async (q: ReturnType<typeof db>) => Number(((await q.count({ n: '*' })) as Array<{ n: number | string }>)[0].n);
  let queries = 0;
  let asked = 0;
  db.on('query', () => queries++);
  // The counting statements themselves are left out of `queries`.
  counts = async () => ({
    queries: queries - 5 * asked++,
    receipts: await count(db('webhook_receipts')),
    processed: await count(db('webhook_receipts').where({ status: 'processed' })),
    events: await count(db('events')),
    notifications: await count(db('notifications')),
    delivered: await count(db('notifications').where({ status: 'delivered' })),
  });
  process.on('SIGTERM', async () => {
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(
        join(process.env.BENCH_CPU_PROF!, `gateway-${database}${delivering ? '-delivery' : ''}-${process.pid}.cpuprofile`),
        JSON.stringify(profile),
      );
    }
    await bench.close();
    process.exit(0);
  });
} else {
  throw new Error(`unknown mode ${mode}: node, koa, forward or gateway`);
}
