import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import got, { type Got } from 'got';
import { API_TOKEN, newSchemaName, usePostgres } from '../helpers/gateway.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { startPrivatePostgres, type PrivatePostgres } from '../helpers/private-postgres.js';
import { Receiver } from '../providers/receiver.js';
import { SandboxProvider } from '../../sandbox/sandbox.js';

/**
 * The database goes away hard (`pg_ctl -m immediate`: every connection cut, no goodbye) for a few
 * seconds while webhooks stream into two gateway processes and a polling instance runs, then comes
 * back. No node exits; while it is away, ingress answers 503 with Retry-After (a provider retries
 * those; a 404 would tell it to drop the hook) and `/health/ready` says so; once it is back every
 * webhook that got a 202 (and every one re-sent after a 503, as a provider would) reaches the
 * callback, and polling goes on. The server is the test's own (test/helpers/private-postgres.ts),
 * so stopping it disturbs no other test.
 */
const SECRET = 'outage-webhook-secret';
const OUTAGE_MS = 3000;
const NODE_CONFIG = {
  poller: { enabled: true, tickSeconds: 0.2, minIntervalSeconds: 1, leaseSeconds: 2, jitterSeconds: 0 },
  // Lease = max(leaseSeconds, 2 × timeout + 5 s): work claimed just before the outage returns within seconds.
  delivery: { enabled: true, tickSeconds: 0.2, leaseSeconds: 2, timeoutSeconds: 1, retrySchedule: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1] },
  webhooks: { leaseSeconds: 2, rateLimitPerMinute: 100_000 },
  schedules: { enabled: false },
  retention: { enabled: false },
  database: { poolMax: 4 },
  shutdown: { graceSeconds: 2 },
};

type Answer = { n: number; node: number; status: number; retryAfter?: string; code?: string; sentAt: number; answeredAt: number };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 100 ms until it holds; fails with `what` after `ms`. */
async function until(what: string, ms: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

describe('a PostgreSQL outage under load', function () {
  this.timeout(180_000);
  if (!usePostgres) return;

  let pg: PrivatePostgres;
  let dataDir: string;
  let sandbox: SandboxProvider;
  let receiver: Receiver;
  const nodes: GatewayProcess[] = [];

  before(async () => {
    pg = await startPrivatePostgres();
    dataDir = mkdtempSync(join(tmpdir(), 'pollgate-outage-'));
    sandbox = await SandboxProvider.start({ seed: false });
    receiver = await Receiver.start();
    const schema = newSchemaName();
    nodes.push(
      ...(await Promise.all(
        [0, 1].map((i) => startGatewayProcess({ dataDir, schema, databaseUrl: pg.url, nodeId: `outage-node-${i}`, config: NODE_CONFIG, binary: true })),
      )),
    );
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.kill('SIGTERM')));
    await sandbox.close();
    await receiver.close();
    pg.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('no node exits, ingress answers 503 with Retry-After (never 404) while it is away, and afterwards every accepted webhook is delivered and polling goes on', async () => {
    const apis: Got[] = nodes.map((node) =>
      got.extend({
        prefixUrl: `${node.url}/elements/api-v2`,
        headers: { authorization: `Bearer ${API_TOKEN}` },
        responseType: 'json',
        retry: { limit: 0 },
        throwHttpErrors: false,
      }),
    );
    const create = async (configuration: Record<string, unknown>) => {
      const res = await apis[0].post('instances', {
        json: { element: { key: 'sandbox' }, configuration: { base_url: sandbox.url, api_key: 'k', ...configuration } },
      });
      expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
      return res.body as unknown as { id: number; webhookUrl?: string };
    };
    const hooked = await create({
      webhook_secret: SECRET,
      'event.vendor.type': 'webhook',
      'event.notification.callback.url': `${receiver.url}/hooks`,
    });
    await create({
      'event.vendor.type': 'polling',
      'event.poller.refresh_interval': '0.0167',
      'event.notification.callback.url': `${receiver.url}/polls`,
    });
    const token = hooked.webhookUrl!.split('/').pop()!;

    // Webhooks stream into both nodes, each signed, with its own delivery id and record.
    const answers: Answer[] = [];
    const send = async (n: number, node: number): Promise<Answer> => {
      const body = JSON.stringify({ events: [{ collection: 'contacts', action: 'created', record: { id: `h${n}`, name: `hook ${n}` } }] });
      const sentAt = Date.now();
      const res = await got.post(`${nodes[node].url}/hooks/${token}`, {
        body,
        headers: {
          'content-type': 'application/json',
          'x-sandbox-delivery': `d${n}`,
          'x-sandbox-signature': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
        },
        throwHttpErrors: false,
        retry: { limit: 0 },
        timeout: { request: 30_000 },
      });
      const code = res.statusCode >= 400 ? (JSON.parse(res.body) as { code?: string }).code : undefined;
      return { n, node, status: res.statusCode, retryAfter: res.headers['retry-after'], code, sentAt, answeredAt: Date.now() };
    };
    let streaming = true;
    let sent = 0;
    const stream = Promise.all(
      [0, 1].map(async (node) => {
        while (streaming) {
          answers.push(await send(sent++, node));
          await sleep(20);
        }
      }),
    );
    const accepted = () => new Set(answers.filter((a) => a.status === 202).map((a) => `h${a.n}`));
    const deliveredHooks = () =>
      new Set(
        receiver.received.filter((r) => r.path === '/hooks').flatMap((r) => (r.body as { events: Array<{ objectId: string }> }).events.map((e) => e.objectId)),
      );
    const polledEvents = () =>
      new Set(
        receiver.received.filter((r) => r.path === '/polls').flatMap((r) => (r.body as { events: Array<{ objectId: string }> }).events.map((e) => e.objectId)),
      );
    const ready = async (node: GatewayProcess) => {
      const res = await got(`${node.url}/health/ready`, { throwHttpErrors: false, retry: { limit: 0 }, responseType: 'json' });
      return { status: res.statusCode, body: res.body as { status: string; database: string } };
    };

    try {
      // Running: webhooks accepted and delivered, a new record polled and delivered.
      const before = sandbox.provider.collection('contacts').upsert({ name: 'before the outage' });
      await until('a first polled event', 30_000, () => polledEvents().has(String(before.id)));
      await until('webhooks delivered before the outage', 30_000, () => deliveredHooks().size >= 10);

      // The database stops hard.
      pg.crash();
      const downAt = Date.now();
      const whileDown = await Promise.all(nodes.map(ready));
      await sleep(OUTAGE_MS);
      const upAt = Date.now();
      pg.start();

      // Ready again, on both nodes.
      await until('both nodes ready again', 30_000, async () => (await Promise.all(nodes.map(ready))).every((r) => r.status === 200));
      // A little more streaming on the recovered database, then the stream stops.
      const recoveredAt = answers.length;
      await until('webhooks accepted after the outage', 30_000, () => answers.slice(recoveredAt).filter((a) => a.status === 202).length >= 10);
      streaming = false;
      await stream;

      // What a provider does with a 503: it sends the webhook again later. Each is accepted now
      // (or found a duplicate, if its first try was stored after all).
      const refused = answers.filter((a) => a.status === 503);
      for (const a of refused) {
        const again = await send(a.n, a.node);
        expect(again.status, `resent webhook d${a.n}`).to.equal(202);
        answers.push(again);
      }

      // Polling goes on: a record made after the outage is polled and delivered.
      const after = sandbox.provider.collection('contacts').upsert({ name: 'after the outage' });
      await until('an event polled after the outage', 30_000, () => polledEvents().has(String(after.id)));
      // Every accepted webhook reaches the callback.
      await until('every accepted webhook delivered', 60_000, () => [...accepted()].every((id) => deliveredHooks().has(id)));

      const during = answers.filter((a) => a.sentAt >= downAt && a.answeredAt <= upAt);
      const statuses = [...new Set(answers.map((a) => a.status))].sort();
      console.log(
        `      outage ${upAt - downAt} ms: ${answers.length} webhook requests (${statuses.join(', ')}), ${during.length} wholly during the outage, ${refused.length} answered 503 and re-sent; ${accepted().size} accepted, ${deliveredHooks().size} delivered`,
      );
      for (const [i, r] of whileDown.entries()) {
        expect(r.status, `node ${i} readiness while the database is down`).to.equal(503);
        expect(r.body).to.include({ status: 'unavailable', database: 'unreachable' });
      }
      expect(during.length, 'webhooks answered during the outage').to.be.above(0);
      for (const a of during) expect(a, 'an answer during the outage').to.include({ status: 503, code: 'DATABASE_UNAVAILABLE' });
      for (const a of answers) {
        expect([202, 503], `webhook d${a.n} on node ${a.node} answered ${a.status}`).to.include(a.status);
        if (a.status === 503) expect(Number(a.retryAfter), `Retry-After of d${a.n}`).to.be.above(0);
      }
      for (const node of nodes) expect(node.child.exitCode, `${node.nodeId} still running:\n${node.output().slice(-2000)}`).to.equal(null);
    } finally {
      streaming = false;
      await stream;
    }
  });
});
