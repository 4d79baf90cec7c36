import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';

/**
 * An OAuth instance's tokens are deleted with it, but a deregistration that failed at DELETE is
 * retried later: the queued call keeps the tokens (encrypted) and sends them.
 */
describe('provider auth: deregistration retried after an OAuth instance is deleted', () => {
  let t: TestGateway;
  let provider: EmulatedProvider;
  const deletes: Array<string | undefined> = [];

  beforeEach(async () => {
    deletes.length = 0;
    provider = await EmulatedProvider.start();
    provider.route('POST', '/webhooks', () => ({ status: 201, body: { id: 'wh-1' } }));
    let failures = 1;
    provider.route('DELETE', '/webhooks/:id', ({ headers }) => {
      deletes.push(headers.authorization);
      return failures-- > 0 ? { status: 503, body: { error: 'try later' } } : { status: 204 };
    });
    t = await startGateway();
    const connector = {
      key: 'acme-hooks',
      name: 'Acme hooks',
      configuration: [{ key: 'base_url', required: true }],
      baseUrl: '<%= iparam.base_url %>',
      auth: { type: 'oauth2', authorizationUrl: 'http://127.0.0.1:9/oauth/authorize', tokenUrl: 'http://127.0.0.1:9/oauth/token' },
      events: {
        supported: ['webhook'],
        webhook: {
          register: 'createWebhook',
          deregister: 'deleteWebhook',
          webhookIdPath: '$.id',
          events: { itemsPath: '$.events[*]', objectType: '$.type', objectId: '$.id', eventType: { from: '$.action', map: { updated: 'UPDATED' } } },
        },
      },
      requests: {
        createWebhook: { schema: { method: 'POST', path: '/webhooks', body: { url: '<%= context.targetUrl %>' } } },
        deleteWebhook: { schema: { method: 'DELETE', path: '/webhooks/<%= context.webhookId %>' }, options: { maxAttempts: 1 } },
      },
    };
    const res = await t.api.post('elements', { json: connector });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
  });

  it('keeps the tokens with the queued call, encrypted, and sends them on the retry', async () => {
    const created = await t.api.post('instances', {
      json: {
        element: { key: 'acme-hooks' },
        configuration: {
          base_url: provider.url,
          'oauth.api.key': 'client-1',
          'oauth.api.secret': 'client-secret-1',
          'oauth.user.token': 'access-token-1',
          'event.vendor.type': 'webhook',
        },
      },
    });
    expect(created.statusCode, JSON.stringify(created.body)).to.equal(201);
    const id = (created.body as unknown as { id: number }).id;
    const registration = provider.requests.find((r) => r.method === 'POST' && r.path === '/webhooks');
    expect(registration?.headers.authorization).to.equal('Bearer access-token-1');

    expect((await t.api.delete(`instances/${id}`)).statusCode).to.equal(200);
    expect(deletes).to.deep.equal(['Bearer access-token-1']);
    const queued = await t.gateway.db('webhook_deregistrations').select('configuration');
    expect(queued).to.have.length(1);
    expect(queued[0].configuration).not.to.include('access-token-1');

    t.clock.advance(10 * 60_000);
    await t.gateway.webhooks.processor.tick();
    expect(deletes).to.deep.equal(['Bearer access-token-1', 'Bearer access-token-1']);
    expect(await t.gateway.db('webhook_deregistrations').select()).to.have.length(0);
  });
});
