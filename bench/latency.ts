import { createHmac } from 'node:crypto';
import got from 'got';
import { Agent } from 'undici';
import { benchGateway, benchInstance, HOOKS_CONNECTOR, percentile, startBenchProcess, startBenchProvider, type BenchProcess, type Result } from './lib.js';

/**
 * Latency, event to callback, on one node with SQLite and the default ticks (1 s): what the
 * wake-ups (src/lib/wake-ups.ts) are for.
 * - `latency-webhooks`: signed webhooks posted at a steady `rate` a second for `seconds` to the
 *   gateway in its own process (bench/ingress-server.ts, loops on); each one's latency is from
 *   the 202 reaching the sender to its event reaching the callback receiver (another process,
 *   bench/latency-receiver.ts; one machine, one clock). One second of the same load goes first
 *   and is not counted (a process's first requests compile code and open connections).
 * - `latency-poll`: `polls` first polls of `records` records each (one write transaction each,
 *   `records / 10` notifications), one every half second, the dispatcher running; each
 *   notification's latency is from the commit of the transaction that made it to its arrival at
 *   the receiver (the last of a poll's notifications waits for the others: 4 sends at a time go
 *   to one origin). One poll more goes first and is not counted.
 */
interface Arrival {
  at: number;
  instanceId: number;
  objectIds: string[];
}
const arrivalsOf = async (receiverUrl: string) => got(new URL('/arrivals', receiverUrl)).json<Arrival[]>();

function latencyRows(
  scenario: string,
  latencies: number[],
  targets: { p50?: number; p99: number },
  note: string,
  database: 'sqlite' | 'postgres' = 'sqlite',
): Result[] {
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  const row = (figure: string, value: number, max: number | undefined): Result => ({
    scenario,
    database,
    figure: `${figure} (${note})`,
    value,
    unit: 'ms',
    floor: null,
    ratio: null,
    target: max === undefined ? '—' : `≤ ${max} ms`,
    pass: max === undefined ? null : value <= max,
  });
  return [row('p50', p50, targets.p50), row('p99', p99, targets.p99)];
}

/** Sends `count` requests, one every `1000 / rate` ms on the wall clock (not after the previous answer). */
async function paced(count: number, rate: number, send: (i: number) => Promise<void>): Promise<void> {
  const start = performance.now();
  const inFlight: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(send(i));
  }
  await Promise.all(inFlight);
}

/**
 * Posts signed webhooks to `target` at `rate` a second for `seconds` (after one uncounted second)
 * and answers each one's latency, from its 202 to its event's arrival at the receiver.
 */
async function webhookLatencies(targetUrl: string, receiverUrl: string, seconds: number, rate: number): Promise<number[]> {
  // The sender's client is the cheapest measured (bench/clients.ts): it shares the cores.
  const sender = new Agent({ connections: 64 });
  const target = new URL(targetUrl);
  const accepted = new Map<string, number>();
  const post = async (id: string) => {
    const body = JSON.stringify({ events: [{ type: 'contacts', action: 'updated', id, data: { name: `Ada ${id}` } }] });
    const signature = createHmac('sha256', 'bench-secret').update(body).digest('hex');
    const res = await sender.request({
      origin: target.origin,
      path: target.pathname,
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-signature': signature },
    });
    await res.body.text();
    if (res.statusCode !== 202) throw new Error(`ingress answered ${res.statusCode}`);
    return Date.now();
  };
  try {
    // One second of the same load first, not counted: code compiled, connections and caches warm.
    await paced(rate, rate, async (i) => void (await post(`warm${i}`)));
    const count = Math.round(seconds * rate);
    await paced(count, rate, async (i) => {
      const id = `w${i + 1}`;
      accepted.set(id, await post(id));
    });
    // Everything accepted must arrive; give the stragglers 10 s.
    let arrivals: Arrival[] = [];
    for (let waited = 0; waited < 10_000; waited += 100) {
      arrivals = await arrivalsOf(receiverUrl);
      if (arrivals.reduce((n, a) => n + a.objectIds.filter((id) => accepted.has(id)).length, 0) >= accepted.size) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const latencies: number[] = [];
    for (const a of arrivals) for (const id of a.objectIds) if (accepted.has(id)) latencies.push(Math.max(0, a.at - accepted.get(id)!));
    if (latencies.length < accepted.size) throw new Error(`${accepted.size} webhooks accepted, ${latencies.length} reached the callback`);
    return latencies;
  } finally {
    await sender.close();
  }
}

export async function webhookLatencyScenario(seconds: number, rate = 200): Promise<Result[]> {
  const receiver = await startBenchProcess(new URL('./latency-receiver.ts', import.meta.url), []);
  const gateway = await startBenchProcess(new URL('./ingress-server.ts', import.meta.url), ['gateway', 'sqlite', receiver.url]);
  try {
    const latencies = await webhookLatencies(gateway.url, receiver.url, seconds, rate);
    return latencyRows('webhook → callback', latencies, { p50: 20, p99: 100 }, `${rate} webhooks/s for ${seconds} s, ${latencies.length} events`);
  } finally {
    await gateway.stop();
    await receiver.stop();
  }
}

/**
 * `latency-cluster`: the same webhooks on 3 nodes sharing one PostgreSQL schema. Node A only
 * receives (its loops are not started: it stores each receipt and NOTIFYs); nodes B and C map and
 * deliver, woken by LISTEN/NOTIFY. So every event crosses nodes twice before it is sent; the
 * attempts' `node` column shows that none was sent by A.
 */
export async function clusterWebhookLatencyScenario(seconds: number, rate = 200): Promise<Result[]> {
  const receiver = await startBenchProcess(new URL('./latency-receiver.ts', import.meta.url), []);
  // The schema, the connector and the instance, made here; this gateway's loops are not started.
  const setup = await benchGateway('postgres');
  const nodes: BenchProcess[] = [];
  try {
    await setup.gateway.ctx.catalog.save(HOOKS_CONNECTOR as never, 'bench');
    const instance = await setup.gateway.instances.create({
      element: { key: 'hooks' },
      configuration: { webhook_secret: 'bench-secret', 'event.vendor.type': 'webhook', 'event.notification.callback.url': receiver.url },
    });
    const script = new URL('./latency-node.ts', import.meta.url);
    for (const [id, role] of [
      ['node-a', 'ingress'],
      ['node-b', 'worker'],
      ['node-c', 'worker'],
    ])
      nodes.push(await startBenchProcess(script, [setup.schema!, id, role]));
    const latencies = await webhookLatencies(`${nodes[0].url}/hooks/${instance.webhookToken}`, receiver.url, seconds, rate);
    const senders = (await setup.gateway.db('attempts').distinct('node').pluck('node')) as string[];
    if (senders.includes('node-a')) throw new Error('the ingress node sent callbacks');
    return latencyRows(
      'webhook → callback, 3 nodes',
      latencies,
      { p99: 250 },
      `${rate} webhooks/s for ${seconds} s to node A, sent by ${senders.sort().join(' and ')}, ${latencies.length} events`,
      'postgres',
    );
  } finally {
    for (const node of nodes) await node.stop();
    await setup.close();
    await receiver.stop();
  }
}

export async function pollLatencyScenario(polls: number, records: number): Promise<Result[]> {
  const created = Date.now();
  const receiver = await startBenchProcess(new URL('./latency-receiver.ts', import.meta.url), []);
  const provider = await startBenchProvider(records, created + 1000);
  const bench = await benchGateway('sqlite', { delivery: { enabled: true } });
  try {
    const { gateway } = bench;
    gateway.start();
    const commits = new Map<number, number>();
    // One poll more first, not counted (code compiled, connections open).
    for (let p = 0; p <= polls; p++) {
      const next = Date.now() + 500;
      const instance = await benchInstance(gateway, provider.url, { pageSize: 100 }, receiver.url);
      await gateway.db('instances').where({ id: instance.id }).update({ created_at: created });
      await gateway.db('poll_objects').where({ instance_id: instance.id }).update({ watermark: created });
      gateway.instances.invalidate(instance.id);
      const summary = (await gateway.poller.pollNow(instance.id)).objects.contacts;
      if (summary.created !== records) throw new Error(`poll ${p + 1} created ${summary.created} of ${records}`);
      // When the poll's first write transaction committed: its events are written (on the real
      // clock) in it, just before the commit.
      const { at } = (await gateway.db('events').where({ instance_id: instance.id }).min({ at: 'created_at' }).first()) as { at: number | string };
      if (p > 0) commits.set(instance.id, Number(at));
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
    // Counted in events: a notification may carry more than it was recorded with (coalescing under backlog).
    const events = polls * records;
    const eventsOf = (list: Arrival[]) => list.reduce((n, a) => n + a.objectIds.length, 0);
    let arrivals: Arrival[] = [];
    for (let waited = 0; waited < 10_000; waited += 100) {
      arrivals = (await arrivalsOf(receiver.url)).filter((a) => commits.has(a.instanceId));
      if (eventsOf(arrivals) >= events) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (eventsOf(arrivals) < events) throw new Error(`${events} events recorded, ${eventsOf(arrivals)} reached the callback`);
    const latencies = arrivals.map((a) => Math.max(0, a.at - commits.get(a.instanceId)!));
    if (process.env.BENCH_DEBUG) {
      const per = new Map<number, number[]>();
      for (const a of arrivals) per.set(a.instanceId, [...(per.get(a.instanceId) ?? []), a.at - commits.get(a.instanceId)!]);
      console.error([...per.values()].map((l) => `${Math.min(...l)}-${Math.max(...l)}`).join(' '));
    }
    return latencyRows('poll commit → callback', latencies, { p99: 100 }, `${polls} polls of ${records} CREATED, ${arrivals.length} notifications`);
  } finally {
    await bench.close();
    await provider.close();
    await receiver.stop();
  }
}
