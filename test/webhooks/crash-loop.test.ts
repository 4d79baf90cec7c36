import { expect } from 'chai';
import got from 'got';
import { API_TOKEN, startGateway, type TestGateway } from '../helpers/gateway.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { SandboxProvider } from '../../sandbox/sandbox.js';
import { contactsBody, createWebhookInstance, storeReceipt } from './helpers.js';

/**
 * A receipt whose mapping kills the process (here: runs it out of heap) no longer crash-loops the
 * gateway: every claim counts an attempt before mapping starts, so after `webhooks.maxAttempts`
 * crashes the next start parks it as `failed` and stays up; a receipt claimed with it in the crash
 * is mapped on the next start.
 */
describe('webhook crash loop (gateway processes)', () => {
  let t: TestGateway;
  let sandbox: SandboxProvider;

  beforeEach(async () => {
    t = await startGateway();
    sandbox = await SandboxProvider.start();
  });

  afterEach(async () => {
    await t.close();
    await sandbox.close();
  });

  it('a body that crashes the process while it is mapped is parked after webhooks.maxAttempts starts, and the gateway stays up', async function () {
    this.timeout(120_000);
    const { id: instanceId } = await createWebhookInstance(t, sandbox);
    // Due now on the child processes' real clock. Inserted as stored before any limit applied:
    // 2.5 million items, far more than a 96 MB heap can parse.
    const due = Date.now() - 1000;
    const innocent = contactsBody(2);
    const poison = `{"events": [${'{"i":1},'.repeat(2_500_000)}{"i":1}]}`;
    await storeReceipt(t, instanceId, innocent, due);
    await storeReceipt(t, instanceId, poison, due);
    await t.gateway.stop();

    const config = { webhooks: { maxAttempts: 2, leaseSeconds: 1 }, poller: { enabled: false }, delivery: { enabled: false } };
    const start = (n: number) =>
      startGatewayProcess({ dataDir: t.dataDir, schema: t.schema, nodeId: `node-${n}`, config, binary: true, nodeOptions: ['--max-old-space-size=96'] });
    /** A start whose process dies mapping the poison body (it may die before it says it listens). */
    const crashes = async (n: number) => {
      let child: GatewayProcess | undefined;
      const exit = await start(n).then(
        (c) => ((child = c), c.exited),
        (err: Error) => err.message,
      );
      const output = child?.output() ?? String(exit);
      expect(output, output).to.match(/heap out of memory|Reached heap limit/);
    };
    await crashes(1);
    await crashes(2);

    const third = await start(3);
    try {
      const api = got.extend({ prefixUrl: `${third.url}/elements/api-v2`, headers: { authorization: `Bearer ${API_TOKEN}` }, responseType: 'json' });
      let receipts: Array<{ status: string; attempts: number; reason: string | null; eventsCount: number }> = [];
      for (let i = 0; i < 100 && !receipts.some((r) => r.status === 'failed'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        receipts = (await api.get(`instances/${instanceId}/webhooks/receipts`)).body as typeof receipts;
      }
      const [parked, mapped] = receipts;
      expect(parked).to.include({ status: 'failed', attempts: 2 });
      expect(parked.reason).to.equal('mapping did not finish in 2 attempts: the gateway stopped or crashed while mapping this receipt');
      expect(mapped).to.include({ status: 'processed', eventsCount: 2 });
      expect(((await api.get(`instances/${instanceId}/webhooks/receipts?status=failed`)).body as unknown[]).length).to.equal(1);
      const metrics = await got(`${third.url}/metrics`, { headers: { authorization: `Bearer ${API_TOKEN}` } }).text();
      expect(metrics).to.match(/^pollgate_webhook_receipts_failed 1$/m);
      expect(third.child.exitCode).to.equal(null);
    } finally {
      await third.kill('SIGTERM');
    }
  });
});
