import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { Agent } from 'undici';
import type { NotificationRow } from '../src/events/store.js';
import { benchGateway, throughputResult, timed, type Result } from './lib.js';

/**
 * Scenario 3, delivery: N pending events (notifications of 10) delivered to a bare node:http
 * receiver in another process. Floor: a bare loop of the outbound module's client (undici) posting
 * the same bodies at the same concurrency, with nothing else (no claim, no signing, no attempt records).
 */
async function startReceiver() {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./receiver-server.ts', import.meta.url).pathname], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve) => child.stdout.once('data', (d) => resolve(JSON.parse(String(d)).url)));
  return { url, stop: () => new Promise<void>((r) => (child.once('exit', () => r()), child.kill('SIGTERM'))) };
}

export async function deliveryScenario(database: 'sqlite' | 'postgres', events: number): Promise<Result[]> {
  const receiver = await startReceiver();
  const concurrency = 16;
  const bench = await benchGateway(database, { delivery: { concurrency } });
  try {
    const { gateway } = bench;
    const instance = await gateway.instances.create({
      element: { key: 'sandbox' },
      configuration: { api_key: 'k', 'event.vendor.type': 'polling', 'event.notification.callback.url': receiver.url },
    });
    const now = Date.now();
    await gateway.ctx.stores.transaction((uow) =>
      uow.events.recordEvents(
        { id: instance.id, name: instance.name, elementKey: 'sandbox' },
        Array.from({ length: events }, (_, i) => ({
          eventType: 'UPDATED' as const,
          objectType: 'contacts',
          objectId: String(i),
          date: new Date(now).toISOString(),
          raw: { id: i, name: `contact ${i}`, email: `c${i}@example.com` },
        })),
        { source: 'polling', now, notify: true, maxPerNotification: 10 },
      ),
    );
    const rows = (await gateway.db('notifications').select()) as NotificationRow[];
    const bodies = await Promise.all(rows.map(async (r) => JSON.stringify(await gateway.ctx.stores.events.notificationBody(r))));

    // Keep-alive connections, as many as the dispatcher may use to one origin.
    const agent = new Agent({ connections: gateway.config.delivery.maxConcurrencyPerOrigin });
    const target = new URL(receiver.url);
    const floor = await timed(async () => {
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < bodies.length) {
            const body = bodies[next++];
            const res = await agent.request({
              origin: target.origin,
              path: target.pathname,
              method: 'POST',
              body,
              headers: { 'content-type': 'application/json' },
            });
            await res.body.text();
          }
        }),
      );
    });
    await agent.close();
    const dispatcher = gateway.delivery.dispatcher;
    // BENCH_CPU_PROF=<dir>: a CPU profile of the drain alone (start-up and the floor left out).
    const profiler = process.env.BENCH_CPU_PROF ? new Session() : undefined;
    if (profiler) {
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    }
    const run = await timed(() => dispatcher.drain(100_000));
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(join(process.env.BENCH_CPU_PROF!, `delivery-${database}-${process.pid}.cpuprofile`), JSON.stringify(profile));
    }
    const delivered = await gateway.db('notifications').where({ status: 'delivered' }).count<{ n: number }[]>({ n: '*' });
    if (Number(delivered[0].n) !== rows.length) throw new Error(`delivered ${delivered[0].n} of ${rows.length} notifications`);
    // CPU per notification (this process, all threads: the SQLite driver's included), against the floor's.
    const cpu = (t: { cpuMicros: number }) => Math.round(t.cpuMicros / rows.length);
    const figure = `events/s (${Math.round((rows.length / run.ms) * 1000)} notifications/s; CPU ${cpu(run)} µs a notification, floor ${cpu(floor)} µs)`;
    return [throughputResult({ scenario: 'delivery', database, figure, unit: 'events/s', count: events, ms: run.ms, floorMs: floor.ms })];
  } finally {
    await bench.close();
    await receiver.stop();
  }
}
