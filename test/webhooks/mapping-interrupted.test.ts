import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import got from 'got';
import knexFactory, { type Knex } from 'knex';
import { API_TOKEN, startGateway, TEST_PG_URL, usePostgres, type TestGateway } from '../helpers/gateway.js';
import { listEvents } from '../poller/helpers.js';
import { SandboxProvider } from '../../sandbox/sandbox.js';

/**
 * A webhook body whose mapping the database fails under (PostgreSQL ends the connection: here an
 * administrator's `pg_terminate_backend`, as a restart or failover would) is not the receipt's
 * failure: no attempt is counted (five park it as failed), the error is counted in
 * `pollgate_errors_total`, and the body is mapped once its lease expires.
 */
const SECRET = 'interrupted-webhook-secret';

describe('webhook mapping cut short by the database', () => {
  if (!usePostgres) return;

  let t: TestGateway;
  let sandbox: SandboxProvider;
  let admin: Knex;

  beforeEach(async () => {
    t = await startGateway();
    sandbox = await SandboxProvider.start({ seed: false });
    admin = knexFactory({ client: 'pg', connection: TEST_PG_URL, pool: { min: 0, max: 2 } });
  });

  afterEach(async () => {
    await admin.destroy();
    await t.close();
    await sandbox.close();
  });

  it('counts no attempt of the receipt, counts the error, and maps the body after its lease', async () => {
    const created = await t.api.post('instances', {
      json: { element: { key: 'sandbox' }, configuration: { base_url: sandbox.url, api_key: 'k', webhook_secret: SECRET, 'event.vendor.type': 'webhook' } },
    });
    expect(created.statusCode, JSON.stringify(created.body)).to.equal(201);
    const { id, webhookUrl } = created.body as unknown as { id: number; webhookUrl: string };
    const body = JSON.stringify({ events: [{ collection: 'contacts', action: 'created', record: { id: 7, name: 'Ada' } }] });
    const pushed = await got.post(webhookUrl.replace('http://127.0.0.1:1', t.url), {
      body,
      headers: {
        'content-type': 'application/json',
        'x-sandbox-delivery': 'd-7',
        'x-sandbox-signature': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
      },
      throwHttpErrors: false,
    });
    expect(pushed.statusCode).to.equal(202);

    // Writes to the events table wait behind another session's lock; the mapping's connection,
    // once it waits there, is ended by the server.
    const lock = await admin.transaction();
    let pass: Promise<number> | undefined;
    try {
      await lock.raw('LOCK TABLE ??.events IN EXCLUSIVE MODE', [t.schema!]);
      pass = t.gateway.webhooks.processor.tick();
      const deadline = Date.now() + 10_000;
      let ended = 0;
      while (ended === 0 && Date.now() < deadline) {
        const rows = (
          await admin.raw(
            `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
              WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid() AND query ILIKE ?`,
            [`insert into "events"%`],
          )
        ).rows as Array<{ ended: boolean }>;
        ended = rows.filter((r) => r.ended).length;
        if (ended === 0) await new Promise((r) => setTimeout(r, 20));
      }
      expect(ended, 'the mapping waiting on the lock').to.equal(1);
      await pass;
    } finally {
      await lock.rollback();
      await pass?.catch(() => 0);
    }

    const [receipt] = (await t.api.get(`instances/${id}/webhooks/receipts`)).body as unknown as Array<{
      status: string;
      attempts: number;
      reason: string | null;
    }>;
    expect(receipt).to.include({ status: 'pending', attempts: 0, reason: null });
    const metrics = await got(`${t.url}/metrics`, { headers: { authorization: `Bearer ${API_TOKEN}` } }).text();
    expect(metrics).to.match(/^pollgate_errors_total\{component="webhook-processing",kind="database_unavailable"\} 1$/m);

    // The lease (webhooks.leaseSeconds, 60 s) expires: the body is mapped.
    t.clock.advance(61_000);
    expect(await t.gateway.webhooks.processor.tick()).to.equal(1);
    expect((await listEvents(t, id)).map((e) => e.objectId)).to.deep.equal(['7']);
  });
});
