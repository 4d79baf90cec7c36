import Koa from 'koa';
import getRawBody from 'raw-body';
import { benchGateway } from './lib.js';

/**
 * A server for the ingress scenario, in its own process: `gateway` (pollgate with a webhook-mode
 * instance, signature verification and the durable store) or `bare` (a koa app that parses the JSON
 * and answers 202: the floor). Prints one JSON line {url} and serves until killed.
 */
const mode = process.argv[2];
const database = (process.argv[3] ?? 'sqlite') as 'sqlite' | 'postgres';

if (mode === 'bare') {
  const app = new Koa();
  app.use(async (ctx) => {
    const body = JSON.parse((await getRawBody(ctx.req, { limit: 5 * 1024 * 1024 })).toString('utf8'));
    ctx.status = 202;
    ctx.body = { status: 'accepted', items: Array.isArray(body.events) ? body.events.length : 0 };
  });
  const server = app.listen(0, '127.0.0.1', () => {
    console.log(JSON.stringify({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks/bare` }));
  });
} else {
  const bench = await benchGateway(database, { webhooks: { rateLimitPerMinute: 10_000_000 } });
  const { gateway } = bench;
  gateway.connectors.register({
    key: 'hooks', name: 'Hooks',
    configuration: [{ key: 'webhook_secret', required: true, secret: true }],
    events: {
      supported: ['webhook'],
      webhook: {
        signature: { scheme: 'hmac', algorithm: 'sha256', header: 'X-Signature', encoding: 'hex', secret: '<%= iparam.webhook_secret %>' },
        events: { itemsPath: '$.events[*]', objectType: '$.type', objectId: '$.id', eventType: { from: '$.action', map: { created: 'CREATED', updated: 'UPDATED' } } },
      },
    },
  }, { source: 'bench' });
  const instance = await gateway.instances.create({ element: { key: 'hooks' }, configuration: { webhook_secret: 'bench-secret', 'event.vendor.type': 'webhook' } });
  console.log(JSON.stringify({ url: `${bench.url}/hooks/${instance.webhookToken}` }));
  process.on('SIGTERM', () => void bench.close().then(() => process.exit(0)));
}
