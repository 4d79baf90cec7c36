import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { checkConfig, loadConfig, mergeDeep } from '../src/config/index.js';
import { Gateway } from '../src/main.js';
import { silentLogger } from '../src/log.js';
import { SandboxProvider } from '../sandbox/sandbox.js';

/**
 * `npm run demo`: the gateway, the sandbox provider and a callback receiver that verifies both
 * signatures, wired together on loopback. It creates a sandbox instance polling every 6 seconds,
 * changes records, and prints each notification as it arrives. Stops after 4 notifications.
 */
const SIGNATURE_KEY = 'demo-signature-key';
const dataDir = mkdtempSync(join(tmpdir(), 'pollgate-demo-'));
const config = checkConfig(
  mergeDeep(loadConfig({ env: {} }) as never, {
    server: { port: 0, host: '127.0.0.1' },
    database: { dataDir },
    auth: { apiToken: 'demo-token-0123456789' },
    log: { level: 'silent' },
    poller: { minIntervalSeconds: 5 },
  }),
);

const sandbox = await SandboxProvider.start();
const gateway = await Gateway.create({ config, log: silentLogger });
const gatewayUrl = await gateway.listen(0, '127.0.0.1');
gateway.start();
let secret = '';
let received = 0;

const receiver = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    let standard = 'ok';
    try {
      new Webhook(secret).verify(raw.toString(), headers);
    } catch (err) {
      standard = `FAILED (${(err as Error).message})`;
    }
    const expected = Buffer.from(`sha256=${createHmac('sha256', SIGNATURE_KEY).update(raw).digest('base64')}`);
    const given = Buffer.from(headers['elements-webhook-signature'] ?? '');
    const elements = expected.length === given.length && timingSafeEqual(expected, given) ? 'ok' : 'FAILED';
    const body = JSON.parse(raw.toString()) as { id: string; events: Array<{ eventType: string; objectType: string; objectId: string; sequence: number }> };
    received++;
    console.log(`\n← notification ${body.id}  (Standard Webhooks signature: ${standard}, Elements-Webhook-Signature: ${elements})`);
    for (const e of body.events) console.log(`   #${e.sequence} ${e.eventType.padEnd(8)} ${e.objectType}/${e.objectId}`);
    res.writeHead(200).end();
    if (received >= 4) setImmediate(() => void shutdown());
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/callback`;

const api = (path: string, init: RequestInit = {}) =>
  fetch(`${gatewayUrl}/elements/api-v2/${path}`, {
    ...init,
    headers: { authorization: 'Bearer demo-token-0123456789', 'content-type': 'application/json' },
  }).then((r) => r.json());

console.log(`pollgate demo\n  gateway   ${gatewayUrl}\n  sandbox   ${sandbox.url}\n  receiver  ${receiverUrl}\n`);
const instance = (await api('instances', {
  method: 'POST',
  body: JSON.stringify({
    element: { key: 'sandbox' },
    name: 'Demo',
    configuration: {
      base_url: sandbox.url,
      api_key: 'demo-key',
      'event.poller.refresh_interval': '0.1',
      'event.notification.callback.url': receiverUrl,
      'event.notification.signature.key': SIGNATURE_KEY,
    },
  }),
})) as { id: number };
secret = ((await api(`instances/${instance.id}/signing-secret`)) as { secret: string }).secret;
console.log(`created instance ${instance.id} (polls contacts and tickets every 6 s); changing records at the sandbox…`);

const contacts = sandbox.provider.collection('contacts');
const tickets = sandbox.provider.collection('tickets');
const changes = [
  () => contacts.upsert({ name: 'Katherine Johnson', email: 'kj@example.com' }),
  () => contacts.update(1, { email: 'ada@analytical.engine' }),
  () => tickets.upsert({ subject: 'Demo ticket', status: 'open' }),
  () => tickets.update(1, { status: 'closed' }),
  () => contacts.upsert({ name: 'Dorothy Vaughan' }),
];
let step = 0;
const timer = setInterval(() => {
  const change = changes[step++ % changes.length];
  const r = change();
  console.log(`→ sandbox change: ${JSON.stringify(r)}`);
}, 2500);
const deadline = setTimeout(() => {
  console.log('\nno more notifications within 60 s; stopping.');
  void shutdown();
}, 60_000);

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  clearTimeout(deadline);
  // Let the delivery that is finishing record its attempt before the database closes.
  await gateway.stop(5000);
  await sandbox.close();
  receiver.close();
  rmSync(dataDir, { recursive: true, force: true });
  console.log(`\ndone: ${received} notifications received and verified.`);
  process.exit(received > 0 ? 0 : 1);
}
process.on('SIGINT', () => void shutdown());
