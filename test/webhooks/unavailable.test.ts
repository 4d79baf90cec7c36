import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { expect } from 'chai';
import got from 'got';
import sqlite3 from 'sqlite3';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { API_TOKEN, newSchemaName, startGateway, usePostgres, type TestGateway } from '../helpers/gateway.js';
import { startPrivatePostgres, type PrivatePostgres } from '../helpers/private-postgres.js';
import { listEvents } from '../poller/helpers.js';
import { SandboxProvider } from '../../sandbox/sandbox.js';

/**
 * Ingress answers 404 only for a webhook endpoint that does not exist: a provider drops a hook on
 * a 404 (or disables its subscription). What may pass — the database locked or away, an instance's
 * secrets unreadable until an operator restores the key — answers 503 with Retry-After, which
 * providers retry; the hook is accepted once it has passed. (The database stopped outright, on
 * PostgreSQL under load, is test/cluster/database-outage.test.ts; the lookup of the endpoint failing is below.)
 */
const SECRET = 'unavailable-webhook-secret';

describe('webhook ingress while it cannot take the webhook', () => {
  let t: TestGateway;
  let sandbox: SandboxProvider;

  beforeEach(async () => {
    // A statement waits 100 ms for another connection's write lock, then fails (SQLite).
    t = await startGateway({ config: { database: { busyTimeoutMs: 100 } } });
    sandbox = await SandboxProvider.start({ seed: false });
  });

  afterEach(async () => {
    await t.close();
    await sandbox.close();
  });

  async function createWebhookInstance() {
    const res = await t.api.post('instances', {
      json: { element: { key: 'sandbox' }, configuration: { base_url: sandbox.url, api_key: 'k', webhook_secret: SECRET, 'event.vendor.type': 'webhook' } },
    });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    const body = res.body as unknown as { id: number; webhookUrl: string };
    return { id: body.id, hookUrl: body.webhookUrl.replace('http://127.0.0.1:1', t.url) };
  }

  const push = (url: string, id: string) => {
    const body = JSON.stringify({ events: [{ collection: 'contacts', action: 'created', record: { id, name: `hook ${id}` } }] });
    return got.post(url, {
      body,
      headers: {
        'content-type': 'application/json',
        'x-sandbox-delivery': `d-${id}`,
        'x-sandbox-signature': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
      },
      throwHttpErrors: false,
      retry: { limit: 0 },
      responseType: 'json',
    });
  };
  const errorsCounted = async (labels: string) => {
    const text = await got(`${t.url}/metrics`, { headers: { authorization: `Bearer ${API_TOKEN}` } }).text();
    return Number(new RegExp(`^pollgate_errors_total\\{${labels}\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  };

  if (!usePostgres) {
    it('answers 503 with Retry-After while another connection holds the write lock, and takes the same webhook once it is released', async () => {
      const { id, hookUrl } = await createWebhookInstance();
      // Another process's transaction holds SQLite's write lock: the receipt cannot be stored.
      const other = new sqlite3.Database(join(t.dataDir, 'pollgate.db'));
      const run = (sql: string) => new Promise<void>((resolve, reject) => other.run(sql, (err) => (err ? reject(err) : resolve())));
      try {
        await run('BEGIN EXCLUSIVE');
        const refused = await push(hookUrl, '1');
        expect(refused.statusCode, JSON.stringify(refused.body)).to.equal(503);
        expect(refused.body).to.include({ code: 'DATABASE_UNAVAILABLE' });
        expect(refused.headers['retry-after']).to.equal('5');
        expect(JSON.stringify(refused.body)).not.to.match(/SQLITE|locked/);
        await run('ROLLBACK');
      } finally {
        await new Promise((resolve) => other.close(resolve));
      }
      expect(await errorsCounted('component="ingress",kind="database_unavailable"')).to.equal(1);

      // The provider retries: accepted now, and mapped to its event.
      const accepted = await push(hookUrl, '1');
      expect(accepted.statusCode, JSON.stringify(accepted.body)).to.equal(202);
      expect(accepted.body).to.deep.equal({ status: 'accepted' });
      expect(await t.gateway.webhooks.processor.tick()).to.equal(1);
      expect((await listEvents(t, id)).map((e) => e.objectId)).to.deep.equal(['1']);
    });
  }

  it('answers 503 with Retry-After, not 404, for an instance whose secrets cannot be decrypted; 404 stays for unknown tokens', async () => {
    const { id, hookUrl } = await createWebhookInstance();
    // Its secrets were written under a key this gateway does not hold (a key lost in a migration).
    const foreign = JSON.stringify({ $enc: new SecretCipher('another-secret-key-0123456789abcdef01234').encrypt('lost') });
    const row = await t.gateway.db('instances').where({ id }).first();
    await t.gateway
      .db('instances')
      .where({ id })
      .update({ configuration: row.configuration.replace(/\{"\$enc":"[^"]+"\}/g, foreign) });

    const refused = await push(hookUrl, '1');
    expect(refused.statusCode, JSON.stringify(refused.body)).to.equal(503);
    expect(refused.headers['retry-after']).to.equal('60');
    expect(JSON.stringify(refused.body)).not.to.match(/decrypt|webhook_secret|api_key/);
    expect(await errorsCounted('component="ingress",kind="unexpected"')).to.equal(1);

    const unknown = await push(`${hookUrl.slice(0, -4)}AAAA`, '2');
    expect(unknown.statusCode).to.equal(404);
    expect(unknown.body).to.include({ code: 'NOT_FOUND' });
  });
});

/**
 * The endpoint's lookup itself failing: the database server is stopped outright (a PostgreSQL
 * server of this test's own, stopped hard as a crash or a failover would), so not even the token
 * can be looked up. The endpoint may well exist: 503 with Retry-After, never 404 — and the same
 * webhook is accepted once the server is back.
 */
describe('webhook ingress while its database server is stopped', function () {
  this.timeout(120_000);
  let pg: PrivatePostgres;
  let t: TestGateway;
  let sandbox: SandboxProvider;

  before(async () => {
    pg = await startPrivatePostgres();
    // The schema is the test's own (given, so closing does not look for it on the shared server).
    t = await startGateway({ config: { database: { url: pg.url, poolMax: 2 } }, schema: newSchemaName() });
    sandbox = await SandboxProvider.start({ seed: false });
  });

  after(async () => {
    await t?.close();
    await sandbox?.close();
    pg?.close();
  });

  it('answers 503 with Retry-After, not 404, while the endpoint cannot be looked up, and takes the same webhook once the server is back', async () => {
    const created = await t.api.post('instances', {
      json: { element: { key: 'sandbox' }, configuration: { base_url: sandbox.url, api_key: 'k', webhook_secret: SECRET, 'event.vendor.type': 'webhook' } },
    });
    expect(created.statusCode, JSON.stringify(created.body)).to.equal(201);
    const { id, webhookUrl } = created.body as unknown as { id: number; webhookUrl: string };
    const hookUrl = webhookUrl.replace('http://127.0.0.1:1', t.url);
    const body = JSON.stringify({ events: [{ collection: 'contacts', action: 'created', record: { id: '7', name: 'hook 7' } }] });
    const push = () =>
      got.post(hookUrl, {
        body,
        headers: {
          'content-type': 'application/json',
          'x-sandbox-delivery': 'd-7',
          'x-sandbox-signature': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
        },
        throwHttpErrors: false,
        retry: { limit: 0 },
        responseType: 'json',
      });

    pg.crash();
    const refused = await push();
    expect(refused.statusCode, JSON.stringify(refused.body)).to.equal(503);
    expect(refused.body).to.include({ code: 'DATABASE_UNAVAILABLE' });
    expect(refused.headers['retry-after']).to.equal('5');
    const metrics = await got(`${t.url}/metrics`, { headers: { authorization: `Bearer ${API_TOKEN}` } }).text();
    expect(metrics).to.match(/^pollgate_errors_total\{component="[^"]*",kind="database_unavailable"\} [1-9]/m);

    pg.start();
    const accepted = await push();
    expect(accepted.statusCode, JSON.stringify(accepted.body)).to.equal(202);
    expect(accepted.body).to.deep.equal({ status: 'accepted' });
    expect(await t.gateway.webhooks.processor.tick()).to.equal(1);
    expect((await listEvents(t, id)).map((e) => e.objectId)).to.deep.equal(['7']);
  });
});
