import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfig, loadConfig, mergeDeep, type Config } from '../src/config/index.js';
import { silentLogger } from '../src/log.js';
import { Gateway } from '../src/main.js';
import { PG_URL } from './lib.js';

/**
 * One node of the 3-node PostgreSQL latency scenario, in a process of its own: `<schema> <node id>
 * <role>`, on a schema the scenario already set up (connector, instance). `ingress` serves HTTP
 * only: it stores webhook receipts and wakes the others by NOTIFY, but maps and sends nothing (its
 * loops are not started). `worker` runs the loops (webhook processing, delivery) with the default
 * 1 s ticks, woken by the ingress node's NOTIFYs. Prints {"url": …} once it serves; SIGTERM stops it.
 */
const [schema, nodeId, role] = process.argv.slice(2);
const dataDir = mkdtempSync(join(tmpdir(), 'pollgate-latency-node-'));
const base = loadConfig({ env: {} }) as unknown as Record<string, unknown>;
const config: Config = checkConfig(
  mergeDeep(base, {
    node: { id: nodeId },
    server: { port: 0, host: '127.0.0.1' },
    database: { url: PG_URL, dataDir, poolMax: 10 },
    auth: { apiToken: 'bench-token-0123456789' },
    security: { secretKey: 'bench-secret-key-0123456789abcdef0123' },
    log: { level: 'silent' },
    webhooks: { rateLimitPerMinute: 10_000_000 },
    poller: { enabled: false },
    delivery: { enabled: role === 'worker' },
    schedules: { enabled: false },
    retention: { enabled: false },
  }),
);
const gateway = await Gateway.create({ config, log: silentLogger, schema });
const url = await gateway.listen(0, '127.0.0.1');
if (role === 'worker') {
  gateway.start();
  // Ready once it hears the ingress node's wake-ups.
  await gateway.ctx.wakeUps.listening();
}
console.log(JSON.stringify({ url }));
process.on('SIGTERM', async () => {
  await gateway.stop();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
});
