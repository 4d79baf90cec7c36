import { expect } from 'chai';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import got from 'got';
import { loadConfig } from '../../src/config/index.js';
import { hashWebhookToken } from '../../src/instances/store.js';
import { startGateway, usePostgres, type TestGateway } from '../helpers/gateway.js';
import { SandboxProvider } from '../../sandbox/sandbox.js';

describe('security: defaults', () => {
  it('binds 127.0.0.1 by default and refuses to serve other machines while loopback targets are allowed (finding 10)', () => {
    expect(loadConfig({ env: {} }).server.host).to.equal('127.0.0.1');
    expect(() => loadConfig({ env: {}, overrides: { server: { host: '0.0.0.0' } } })).to.throw(/server\.host.*network\.allowLoopback/);
    expect(() => loadConfig({ env: {}, overrides: { server: { host: '::' } } })).to.throw(/server\.host/);
    expect(loadConfig({ env: {}, overrides: { server: { host: '0.0.0.0' }, network: { allowLoopback: false } } }).server.host).to.equal('0.0.0.0');
    expect(loadConfig({ env: {}, overrides: { server: { host: 'localhost' } } }).server.host).to.equal('localhost');
  });

  describe('data at rest (finding 15)', () => {
    let t: TestGateway | undefined;
    let sandbox: SandboxProvider | undefined;
    let dataDir: string;
    beforeEach(() => {
      dataDir = mkdtempSync(join(tmpdir(), 'pollgate-perm-'));
    });
    afterEach(async () => {
      await t?.close();
      await sandbox?.close();
      t = sandbox = undefined;
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('keeps the data folder 0700 and the SQLite file 0600', async () => {
      chmodSync(dataDir, 0o755);
      t = await startGateway({ dataDir });
      expect(statSync(dataDir).mode & 0o777).to.equal(0o700);
      if (!usePostgres) expect(statSync(join(dataDir, 'pollgate.db')).mode & 0o777).to.equal(0o600);
    });

    it('stores a hash of the webhook token, not the token, and still finds the instance by it', async () => {
      t = await startGateway({ dataDir });
      sandbox = await SandboxProvider.start();
      const res = await t.api.post('instances', {
        json: {
          element: { key: 'sandbox' },
          configuration: { base_url: sandbox.url, api_key: 'k', webhook_secret: 'whk-secret-123', 'event.vendor.type': 'webhook' },
        },
      });
      expect(res.statusCode).to.equal(201);
      const { id, webhookUrl } = res.body as unknown as { id: number; webhookUrl: string };
      const token = webhookUrl.split('/').pop()!;
      const row = await t.gateway.db('instances').where({ id }).first();
      expect(JSON.stringify(row)).not.to.include(token);
      expect(row.webhook_token).to.equal(hashWebhookToken(token));
      expect((await t.api.get(`instances/${id}`)).body).to.include({ webhookUrl });
      const hook = await got.post(`${t.url}/hooks/${token}`, { json: {}, throwHttpErrors: false, retry: { limit: 0 } });
      expect(hook.statusCode).to.equal(401); // found (unsigned → 401), not 404
      const unknown = await got.post(`${t.url}/hooks/${row.webhook_token}`, { json: {}, throwHttpErrors: false, retry: { limit: 0 } });
      expect(unknown.statusCode).to.equal(404);
    });
  });
});
