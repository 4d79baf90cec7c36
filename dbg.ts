import { createHmac } from 'node:crypto';
import got from 'got';
import http from 'node:http';
import { benchGateway, startBenchProcess, percentile } from './bench/lib.js';
const receiver = await startBenchProcess(new URL('./bench/latency-receiver.ts', import.meta.url), []);
const bench = await benchGateway('sqlite', { webhooks: { rateLimitPerMinute: 10_000_000 }, delivery: { enabled: true } });
const { gateway } = bench;
await gateway.ctx.catalog.save({ key: 'hooks', name: 'Hooks', configuration: [{ key: 'webhook_secret', required: true, secret: true }],
  events: { supported: ['webhook'], webhook: { signature: { scheme: 'hmac', algorithm: 'sha256', header: 'X-Signature', encoding: 'hex', secret: '<%= iparam.webhook_secret %>' },
  events: { itemsPath: '$.events[*]', objectType: '$.type', objectId: '$.id', eventType: { from: '$.action', map: { created: 'CREATED', updated: 'UPDATED' } } } } } } as never, 'bench');
const instance = await gateway.instances.create({ element: { key: 'hooks' }, configuration: { webhook_secret: 'bench-secret', 'event.vendor.type': 'webhook', 'event.notification.callback.url': receiver.url } });
gateway.start();
const url = `${bench.url}/hooks/${instance.webhookToken}`;
const agent = new http.Agent({ keepAlive: true });
const start = performance.now();
const ps = [];
for (let i = 0; i < 400; i++) {
  const wait = start + i * 5 - performance.now();
  if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  const body = JSON.stringify({ events: [{ type: 'contacts', action: 'updated', id: `w${i}`, data: {} }] });
  ps.push(got.post(url, { body, headers: { 'content-type': 'application/json', 'x-signature': createHmac('sha256', 'bench-secret').update(body).digest('hex') }, agent: { http: agent } }));
}
await Promise.all(ps);
await new Promise((r) => setTimeout(r, 3000));
const rows = await gateway.db('notifications as n').join('webhook_receipts as r', gateway.db.raw("json_extract(n.payload, '$.receiptId')"), 'r.id').select('r.received_at', 'n.created_at', 'n.delivered_at');
const map = rows.map((r: any) => r.created_at - r.received_at), del = rows.map((r: any) => r.delivered_at - r.created_at);
console.log(rows.length, 'map p50', percentile(map, 50), 'p99', percentile(map, 99), 'deliver p50', percentile(del, 50), 'p99', percentile(del, 99));
await bench.close(); await receiver.stop(); process.exit(0);
