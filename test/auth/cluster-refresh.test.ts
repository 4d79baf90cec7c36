import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import got from 'got';
import { API_TOKEN, dropSchema, newSchemaName, usePostgres } from '../helpers/gateway.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { bearerOf, startOAuthServer } from './helpers.js';

/**
 * Token refresh is single-flight per instance across nodes: three gateway processes on one
 * PostgreSQL database poll 20 OAuth 2.0 instances (three object types each, so several nodes poll
 * one instance at once) whose tokens all come due for refresh at the same moment. The token
 * endpoint must see exactly one refresh per instance, and no poll may fail.
 */
const INSTANCES = 20;
const OBJECTS = ['contacts', 'tickets', 'deals'];
const NODE_CONFIG = {
  poller: { enabled: true, tickSeconds: 0.2, minIntervalSeconds: 1, leaseSeconds: 10, concurrency: 32 },
  delivery: { enabled: false },
  schedules: { enabled: false },
  shutdown: { graceSeconds: 2 },
  // Few connections: other test runs share the PostgreSQL server.
  database: { poolMax: 4 },
};
const CALLBACK = 'http://127.0.0.1:9/oauth/callback';

describe('provider auth across nodes', function () {
  this.timeout(120_000);
  if (!usePostgres) return;

  it('3 nodes, 20 instances whose tokens come due at once: one refresh per instance, no failed poll', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pollgate-auth-cluster-'));
    const schema = newSchemaName();
    const oauth = await startOAuthServer();
    const provider = await EmulatedProvider.start({ requireAuth: { type: 'check', accept: (req) => oauth.valid.has(bearerOf(req.headers.authorization)) } });
    provider.recordRequests = false;
    for (const o of OBJECTS) provider.collection(o).upsert({ name: `first ${o}` });
    const nodes: GatewayProcess[] = [];
    try {
      nodes.push(...(await Promise.all([0, 1, 2].map((i) => startGatewayProcess({ dataDir, schema, nodeId: `auth-node-${i}`, config: NODE_CONFIG })))));
      const api = got.extend({
        prefixUrl: `${nodes[0].url}/elements/api-v2`,
        headers: { authorization: `Bearer ${API_TOKEN}` },
        responseType: 'json',
        retry: { limit: 0 },
        throwHttpErrors: false,
      });
      const created = await api.post('elements', {
        json: {
          key: 'acme',
          name: 'Acme',
          configuration: [{ key: 'base_url', required: true }],
          baseUrl: '<%= iparam.base_url %>',
          auth: { type: 'oauth2', authorizationUrl: `${oauth.url}/oauth/authorize`, tokenUrl: `${oauth.url}/oauth/token` },
          events: { supported: ['polling'], poller: Object.fromEntries(OBJECTS.map((o) => [o, { url: `/${o}`, idField: 'id' }])) },
        },
      });
      expect(created.statusCode, JSON.stringify(created.body)).to.equal(201);

      // Every token comes due (60 s before its expiry) at the same moment, `dueAt`.
      const dueAt = Date.now() + 30_000;
      const instanceOfRefreshToken = new Map<string, number>();
      for (let i = 1; i <= INSTANCES; i++) {
        const { oauthUrl } = (await api.get(`elements/acme/oauth/url?apiKey=client-1&callbackUrl=${encodeURIComponent(CALLBACK)}`)).body as {
          oauthUrl: string;
        };
        const code = new URL((await got(oauthUrl, { followRedirect: false })).headers.location!).searchParams.get('code')!;
        oauth.next.push((a) => void (a.body.expires_in = Math.round((dueAt + 60_000 - Date.now()) / 1000)));
        const res = await api.post('instances', {
          json: {
            element: { key: 'acme' },
            providerData: { code },
            configuration: {
              base_url: provider.url,
              'oauth.api.key': 'client-1',
              'oauth.api.secret': 'secret-1',
              'oauth.callback.url': CALLBACK,
              'event.poller.refresh_interval': '0.02',
            },
          },
        });
        expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
        instanceOfRefreshToken.set(oauth.calls.at(-1)!.answer.refresh_token as string, (res.body as unknown as { id: number }).id);
      }
      expect(Date.now(), 'the instances were created before their tokens came due').to.be.below(dueAt);

      // Polls go on through the moment and for a while after it.
      await new Promise((r) => setTimeout(r, dueAt + 8000 - Date.now()));

      const refreshes = new Map<number, number>();
      for (const call of oauth.calls.filter((c) => c.grant === 'refresh_token')) {
        const id = instanceOfRefreshToken.get(call.body.refresh_token);
        expect(id, 'a refresh with a refresh token that was already spent or never issued').to.not.equal(undefined);
        refreshes.set(id!, (refreshes.get(id!) ?? 0) + 1);
        if (call.status === 200) instanceOfRefreshToken.set(call.answer.refresh_token as string, id!);
      }
      const polledAfter = dueAt + 1000;
      const statuses = await Promise.all(
        Array.from({ length: INSTANCES }, (_, i) =>
          api.get(`instances/${i + 1}/status`).then(
            (r) =>
              r.body as {
                auth: { state: string; lastRefreshAt: string };
                objects: Record<string, { lastError: string | null; consecutiveFailures: number; lastSuccessDate: string; node: string }>;
              },
          ),
        ),
      );
      const nodesSeen = new Set(statuses.flatMap((s) => Object.values(s.objects).map((o) => o.node)));
      console.log(
        `      auth cluster: ${oauth.calls.filter((c) => c.grant === 'refresh_token').length} refreshes for ${INSTANCES} instances, polled by ${[...nodesSeen].sort().join(', ')}`,
      );
      expect([...refreshes.values()], 'refreshes per instance').to.deep.equal(Array(INSTANCES).fill(1));
      expect(refreshes.size).to.equal(INSTANCES);
      expect(nodesSeen.size, 'every node polled').to.equal(3);
      for (const s of statuses) {
        expect(s.auth.state).to.equal('ok');
        expect(Date.parse(s.auth.lastRefreshAt)).to.be.at.least(dueAt - 1000);
        for (const [objectType, o] of Object.entries(s.objects)) {
          expect(o.lastError, objectType).to.equal(null);
          expect(o.consecutiveFailures, objectType).to.equal(0);
          expect(Date.parse(o.lastSuccessDate), `${objectType} polled with the new token`).to.be.above(polledAfter);
        }
      }
    } finally {
      await Promise.all(nodes.map((n) => n.kill('SIGTERM')));
      await provider.close();
      await oauth.close();
      await dropSchema(schema);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
