import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { pollNow, providerConnector, registerConnector } from '../poller/helpers.js';
import { bearerOf, capturedLogger, startOAuthServer, type OAuthProvider } from './helpers.js';

const MINUTE = 60_000;

/** The other auth types: an API key in the query, the client-credentials grant, and an API base taken from the token answer. */
describe('provider auth: query keys, client credentials, baseUrlFrom', () => {
  let t: TestGateway;
  let oauth: OAuthProvider;
  let provider: EmulatedProvider;
  let logs: string[];

  beforeEach(async () => {
    oauth = await startOAuthServer();
    provider = await EmulatedProvider.start();
    const captured = capturedLogger();
    logs = captured.lines;
    t = await startGateway({ options: { log: captured.log } });
    provider.now = () => t.clock.now();
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
    await oauth.close();
  });

  async function create(json: Record<string, unknown>): Promise<number> {
    const res = await t.api.post('instances', { json });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    return (res.body as unknown as { id: number }).id;
  }

  it('query: the key is in the URL sent, never in the request log, a log line or an answer', async () => {
    provider.requireAuth = { type: 'check', accept: (_req, url) => url.searchParams.get('api_key') === 'sk-query-secret-1' };
    await registerConnector(t, {
      ...providerConnector('q', { auth: { type: 'query', name: 'api_key', value: '<%= iparam.api_key %>' } }),
      requests: { me: { schema: { method: 'GET', path: '/contacts', query: { fields: 'id' } } } },
    });
    const id = await create({ element: { key: 'q' }, configuration: { base_url: provider.url, api_key: 'sk-query-secret-1' } });
    t.clock.advance(MINUTE);
    // A route, not a collection: the emulator would read api_key as a record filter.
    const at = new Date(t.clock.now()).toISOString();
    provider.route('GET', '/contacts', () => ({ status: 200, body: [{ id: 1, name: 'Ada', created_at: at, updated_at: at }] }));
    expect((await pollNow(t, id)).contacts).to.include({ created: 1 });
    const invoked = await t.api.post(`instances/${id}/requests/me`, { json: {} });
    expect(invoked.statusCode).to.equal(200);
    const log = await t.api.get(`instances/${id}/requests/log`);
    expect(JSON.stringify(log.body)).to.include('fields=id').and.not.include('sk-query-secret-1');
    expect(logs.join('\n')).to.not.include('sk-query-secret-1');
  });

  it('client credentials: the token is fetched on create with basic client auth and scopes, sent as a bearer, and fetched again near its expiry', async () => {
    provider.requireAuth = { type: 'check', accept: (req) => oauth.valid.has(bearerOf(req.headers.authorization)) };
    await registerConnector(
      t,
      providerConnector('cc', {
        configuration: [{ key: 'base_url', required: true }],
        auth: { type: 'oauth2-client-credentials', tokenUrl: `${oauth.url}/oauth/token`, scopes: ['read', 'write'], scopeSeparator: ',', clientAuth: 'basic' },
      } as never),
    );
    oauth.next.push((a) => void (a.body.expires_in = 300));
    const id = await create({
      element: { key: 'cc' },
      configuration: { base_url: provider.url, 'oauth.api.key': 'svc-1', 'oauth.api.secret': 'svc-secret-1' },
    });
    expect(oauth.calls).to.have.length(1);
    expect(oauth.calls[0].grant).to.equal('client_credentials');
    expect(oauth.calls[0].body).to.include({ scope: 'read,write' }).and.not.have.property('client_secret');

    t.clock.advance(MINUTE);
    provider.collection('contacts').upsert({ name: 'Ada' });
    expect((await pollNow(t, id)).contacts).to.include({ created: 1 });
    expect(bearerOf(provider.requests.at(-1)!.headers.authorization)).to.equal(oauth.calls[0].answer.access_token);

    t.clock.advance(4 * MINUTE); // within 60 s of the expiry
    expect((await pollNow(t, id)).contacts.error).to.equal(undefined);
    expect(oauth.calls.map((c) => c.grant)).to.deep.equal(['client_credentials', 'client_credentials']);
    expect(bearerOf(provider.requests.at(-1)!.headers.authorization)).to.equal(oauth.calls[1].answer.access_token);
    const status = await t.api.get(`instances/${id}/status`);
    expect((status.body as unknown as { auth: Record<string, unknown> }).auth).to.include({ type: 'oauth2-client-credentials', state: 'ok' });
    expect(logs.join('\n')).to.not.include('svc-secret-1');
  });

  it('baseUrlFrom: the API base comes from the token answer (Salesforce instance_url)', async () => {
    const api = await EmulatedProvider.start();
    try {
      api.requireAuth = { type: 'check', accept: (req) => oauth.valid.has(bearerOf(req.headers.authorization)) };
      await registerConnector(
        t,
        providerConnector('sf', {
          configuration: [],
          baseUrl: 'https://login.example.invalid/never-called',
          auth: { type: 'oauth2', authorizationUrl: `${oauth.url}/oauth/authorize`, tokenUrl: `${oauth.url}/oauth/token`, baseUrlFrom: '$.instance_url' },
        } as never),
      );
      oauth.next.push((a) => void (a.body.instance_url = api.url));
      const id = await create({
        element: { key: 'sf' },
        providerData: { code: 'code-1' },
        configuration: { 'oauth.api.key': 'c', 'oauth.api.secret': 's', 'oauth.callback.url': 'http://127.0.0.1:9/cb' },
      });
      t.clock.advance(MINUTE);
      api.collection('contacts').upsert({ name: 'Ada' });
      expect((await pollNow(t, id)).contacts).to.include({ created: 1 });
      expect(api.requests.filter((r) => r.path === '/contacts')).to.have.length(1);
    } finally {
      await api.close();
    }
  });
});
