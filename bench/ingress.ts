import { createHmac } from 'node:crypto';
import got from 'got';
import autocannon from 'autocannon';
import { startBenchProcess, type BenchProcess, type Result } from './lib.js';

/**
 * Webhook ingress: autocannon (32 connections) against POST /hooks/:token with a signed JSON body
 * (the raw body is stored durably before each 202). Floors, under the same load, each in a process
 * of its own like the gateway: a bare node:http JSON handler (the target's reference) and a bare
 * koa one. Two scenarios:
 * - `ingress`: the gateway only stores (its background loops are off);
 * - `ingress-delivery`: the webhook processor maps every stored body and the dispatcher delivers
 *   each event to a loopback receiver in another process, while the load runs. After the load, it
 *   waits until the receiver has every event and checks that nothing accepted was lost. A third
 *   floor does the same work with no pollgate code: the bare node:http handler that, after its 202,
 *   forwards each body to a receiver of its own (a fresh process of the same receiver-server.ts)
 *   with an undici Agent (`forward` mode of ingress-server.ts). Its CPU a request includes the
 *   sends that finished after the load, as the gateway's does.
 */
/** Each request a different record (the processor drops a record it has seen unchanged), signed. */
let sent = 0;
function nextRequest<T extends { body?: string; headers?: Record<string, string> }>(request: T): T {
  const id = ++sent;
  const body = JSON.stringify({ events: [{ type: 'contacts', action: 'updated', id, data: { name: `Ada ${id}`, email: `ada${id}@example.com` } }] });
  return {
    ...request,
    body,
    headers: { ...request.headers, 'content-type': 'application/json', 'x-signature': createHmac('sha256', 'bench-secret').update(body).digest('hex') },
  };
}

interface Load {
  rps: number;
  p99: number;
  ok: number;
  non2xx: number;
}

async function load(url: string, seconds: number): Promise<Load> {
  const result = await autocannon({
    url,
    connections: 32,
    duration: seconds,
    requests: [{ method: 'POST', setupRequest: nextRequest }],
  });
  return { rps: result.requests.average, p99: result.latency.p99, ok: result['2xx'], non2xx: result.non2xx };
}

/** The load against a fresh server process; `cpuPerRequest` is its CPU µs per request answered 2xx. */
async function floor(mode: 'node' | 'koa', seconds: number): Promise<Load & { cpuPerRequest: number }> {
  const server = await startBenchProcess(new URL('./ingress-server.ts', import.meta.url), [mode]);
  try {
    const before = JSON.parse(await server.ask()).cpuMicros as number;
    const result = await load(server.url, seconds);
    const after = JSON.parse(await server.ask()).cpuMicros as number;
    return { ...result, cpuPerRequest: (after - before) / result.ok };
  } finally {
    await server.stop();
  }
}

/** The forwarding floor: the load, then until its receiver has every body it answered. */
async function forwardFloor(seconds: number): Promise<Load & { cpuPerRequest: number }> {
  const receiver = await startBenchProcess(new URL('./receiver-server.ts', import.meta.url), []);
  try {
    const server = await startBenchProcess(new URL('./ingress-server.ts', import.meta.url), ['forward', 'sqlite', receiver.url]);
    try {
      const before = JSON.parse(await server.ask()).cpuMicros as number;
      const result = await load(server.url, seconds);
      const countUrl = new URL('/count', receiver.url).toString();
      const deadline = Date.now() + 30_000;
      for (;;) {
        const s = JSON.parse(await server.ask()) as { cpuMicros: number; receipts: number; forwarded: number; failed: number };
        const r = await got(countUrl).json<ReceiverCount>();
        if (s.failed > 0) throw new Error(`the forwarding floor failed ${s.failed} sends`);
        if (s.forwarded === s.receipts && r.events === s.receipts) {
          return { ...result, ok: s.receipts, cpuPerRequest: (s.cpuMicros - before) / s.receipts };
        }
        if (Date.now() > deadline) throw new Error(`the forwarding floor sent ${s.forwarded} of ${s.receipts} bodies in 30 s`);
        await new Promise((res) => setTimeout(res, 100));
      }
    } finally {
      await server.stop();
    }
  } finally {
    await receiver.stop();
  }
}

interface ReceiverCount {
  requests: number;
  notifications: number;
  events: number;
}
interface GatewayCount {
  cpuMicros: number;
  queries: number;
  receipts: number;
  processed: number;
  events: number;
  notifications: number;
  delivered: number;
}

/**
 * Waits until every receipt the gateway stored is mapped and delivered and the receiver has all
 * their events; gives up when nothing moves for 10 s. Resolves to the last counts and how long it took.
 */
async function waitForDelivery(gateway: BenchProcess, receiverUrl: string) {
  const countUrl = new URL('/count', receiverUrl).toString();
  const start = Date.now();
  let last = '';
  let lastChange = start;
  for (;;) {
    const g = JSON.parse(await gateway.ask()) as GatewayCount;
    const r = await got(countUrl).json<ReceiverCount>();
    const done = g.processed === g.receipts && g.delivered === g.notifications && r.events === g.events && g.events === g.receipts;
    const now = Date.now();
    if (done || now - lastChange > 10_000) return { done, g, r, ms: now - start };
    const seen = JSON.stringify([g, r]);
    if (seen !== last) (last = seen), (lastChange = now);
    await new Promise((res) => setTimeout(res, 100));
  }
}

export async function ingressScenario(database: 'sqlite' | 'postgres', seconds: number, withDelivery = false): Promise<Result[]> {
  const bare = await floor('node', seconds);
  const koa = await floor('koa', seconds);
  const forwarding = withDelivery ? await forwardFloor(seconds) : undefined;
  const receiver = withDelivery ? await startBenchProcess(new URL('./receiver-server.ts', import.meta.url), []) : undefined;
  let measured: Load;
  let note = '';
  let cpuPerRequest = 0;
  let queriesPerRequest = 0;
  try {
    const gateway = await startBenchProcess(new URL('./ingress-server.ts', import.meta.url), ['gateway', database, ...(receiver ? [receiver.url] : [])]);
    try {
      const before = JSON.parse(await gateway.ask()) as GatewayCount;
      measured = await load(gateway.url, seconds);
      let after = JSON.parse(await gateway.ask()) as GatewayCount;
      if (receiver) {
        // Every accepted body (and any answered after autocannon stopped counting) must arrive.
        const { done, g, r, ms } = await waitForDelivery(gateway, receiver.url);
        if (!done || g.receipts < measured.ok) {
          throw new Error(`events lost: ${measured.ok} accepted, gateway ${JSON.stringify(g)}, receiver ${JSON.stringify(r)}`);
        }
        note = `; all ${r.events} delivered ${(ms / 1000).toFixed(1)} s after the load`;
        // The CPU of the mapping and delivery that ran after the load belongs to these requests too.
        after = g;
        measured.ok = g.receipts;
      }
      cpuPerRequest = (after.cpuMicros - before.cpuMicros) / measured.ok;
      queriesPerRequest = (after.queries - before.queries) / measured.ok;
    } finally {
      await gateway.stop();
    }
  } finally {
    await receiver?.stop();
  }
  if (measured.non2xx > 0) throw new Error(`${measured.non2xx} ingress requests did not get a 2xx`);
  const name = withDelivery ? 'ingress + delivery' : 'webhook ingress';
  const row = (floorName: string, f: Load & { cpuPerRequest: number }, target = '≥ 0.5× floor'): Result => {
    const ratio = measured.rps / f.rps;
    const cpu = `${queriesPerRequest.toFixed(2)} SQL statements and CPU ${Math.round(cpuPerRequest)} µs a request, floor ${Math.round(f.cpuPerRequest)} µs: ${(f.cpuPerRequest / cpuPerRequest).toFixed(2)}×`;
    return {
      scenario: name,
      database,
      figure: `req/s vs bare ${floorName} (p99 ${measured.p99} ms; floor p99 ${f.p99} ms${note}; ${cpu})`,
      value: Math.round(measured.rps),
      unit: 'req/s',
      floor: Math.round(f.rps),
      ratio: +ratio.toFixed(2),
      target,
      pass: ratio >= 0.5,
    };
  };
  const rows = [row('node:http', bare), row('koa', koa)];
  // The target of ingress with delivery is against the floor that forwards too; the two above are
  // kept for comparison with earlier runs.
  if (forwarding) rows.unshift(row('node:http forwarding each body with undici', forwarding, '≥ 0.5× forwarding floor'));
  return rows;
}
