import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import got from 'got';
import { createDatabase } from '../../src/db/index.js';
import { API_TOKEN, TEST_PG_URL, dropSchema, newSchemaName, usePostgres } from '../helpers/gateway.js';
import { startGatewayProcess } from '../helpers/gateway-process.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { providerConnector } from '../poller/helpers.js';

/**
 * `pollgate start` (the built binary, as a supervisor runs it) stops on SIGTERM within its grace
 * period, exits 0, and gives back the lease of a poll that was still waiting on a hung provider.
 */
describe('pollgate start under SIGTERM', function () {
  this.timeout(60_000);

  it('exits 0 within the grace period having released its leases', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pollgate-start-'));
    const schema = usePostgres ? newSchemaName() : undefined;
    const provider = await EmulatedProvider.start();
    // Every poll hangs far longer than the grace period.
    provider.delayNext(100, 60_000);
    const graceSeconds = 1;
    const node = await startGatewayProcess({
      dataDir,
      schema,
      nodeId: 'node-term',
      binary: true,
      config: {
        poller: { enabled: true, minIntervalSeconds: 1, leaseSeconds: 120 },
        delivery: { enabled: false },
        schedules: { enabled: false },
        shutdown: { graceSeconds },
      },
    });
    const db = createDatabase({ url: usePostgres ? TEST_PG_URL : null, dataDir, schema });
    try {
      const api = got.extend({
        prefixUrl: `${node.url}/elements/api-v2`,
        headers: { authorization: `Bearer ${API_TOKEN}` },
        responseType: 'json',
        retry: { limit: 0 },
      });
      await api.post('elements', { json: providerConnector('term') });
      await api.post('instances', {
        json: { element: { key: 'term' }, configuration: { base_url: provider.url, api_key: 'k', 'event.poller.refresh_interval': '0.02' } },
      });
      // Wait until a poll is in flight: the provider holds the request, the node holds the lease.
      const until = Date.now() + 20_000;
      while (provider.requests.length === 0) {
        if (Date.now() > until) throw new Error(`no poll started:\n${node.output()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await db('poll_objects').pluck('lease_owner')).to.deep.equal(['node-term']);

      const sent = Date.now();
      const code = await node.kill('SIGTERM');
      const tookMs = Date.now() - sent;
      expect(code, node.output()).to.equal(0);
      expect(tookMs).to.be.below(graceSeconds * 1000 + 3000);
      expect(tookMs).to.be.at.least(graceSeconds * 1000 - 100);
      const rows = (await db('poll_objects').select('lease_owner', 'lease_expires_at')) as Array<{ lease_owner: string | null }>;
      expect(rows).to.deep.equal([{ lease_owner: null, lease_expires_at: null }]);
    } finally {
      await node.kill('SIGKILL');
      await db.destroy();
      await provider.close();
      if (schema) await dropSchema(schema);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
