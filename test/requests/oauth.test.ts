import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { startOAuthServer, type OAuthProvider } from '../auth/helpers.js';

/** `isOAuth` request templates send the instance's OAuth access token, kept fresh by the auth layer. */
describe('request templates: OAuth requests', () => {
  let t: TestGateway;
  let oauth: OAuthProvider;
  let provider: EmulatedProvider;

  beforeEach(async () => {
    oauth = await startOAuthServer();
    provider = await EmulatedProvider.start();
    provider.route('GET', '/me', ({ headers }) => ({ status: 200, body: { token: headers['x-access-token'], authorization: headers.authorization ?? null } }));
    t = await startGateway();
    const connector = {
      key: 'acme',
      name: 'Acme',
      configuration: [{ key: 'base_url', required: true }],
      baseUrl: '<%= iparam.base_url %>',
      auth: { type: 'oauth2', authorizationUrl: `${oauth.url}/oauth/authorize`, tokenUrl: `${oauth.url}/oauth/token`, clientAuth: 'body' },
      events: { supported: ['polling'], poller: { contacts: { url: '/contacts', idField: 'id' } } },
      requests: { whoami: { schema: { path: '/me', headers: { 'X-Access-Token': '<%= access_token %>' } }, options: { isOAuth: true } } },
    };
    expect((await t.api.post('elements', { json: connector })).statusCode).to.equal(201);
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
    await oauth.close();
  });

  async function instance(tokens: Record<string, string>): Promise<number> {
    const res = await t.api.post('instances', {
      json: {
        element: { key: 'acme' },
        configuration: { base_url: provider.url, 'oauth.api.key': 'client-1', 'oauth.api.secret': 'client-secret-1', ...tokens },
      },
    });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    return (res.body as unknown as { id: number }).id;
  }

  const whoami = async (id: number) => {
    const res = await t.api.post(`instances/${id}/requests/whoami`, { json: {} });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(200);
    return JSON.parse((res.body as unknown as { response: string }).response) as { token: string; authorization: string };
  };

  it('substitutes the instance OAuth access token (not a configuration value) for <%= access_token %>', async () => {
    const id = await instance({ 'oauth.user.token': 'handed-over-token-1' });
    expect(await whoami(id)).to.deep.equal({ token: 'handed-over-token-1', authorization: 'Bearer handed-over-token-1' });
    // The instance answer never shows it.
    expect(JSON.stringify((await t.api.get(`instances/${id}`)).body)).not.to.include('handed-over-token-1');
  });

  it('refreshes a token that is due before substituting it', async () => {
    const id = await instance({ 'oauth.user.refresh_token': 'refresh-1' });
    const seen = await whoami(id);
    expect(oauth.calls.map((c) => c.grant)).to.deep.equal(['refresh_token']);
    expect(oauth.valid.has(seen.token)).to.equal(true);
    expect(seen.authorization).to.equal(`Bearer ${seen.token}`);
  });

  it('answers PLATFORM 502 with the reason when the refresh is refused, sending nothing', async () => {
    const id = await instance({ 'oauth.user.refresh_token': 'refresh-1' });
    oauth.next.push((a) => {
      a.statusCode = 400;
      a.body = { error: 'invalid_grant' };
    });
    const res = await t.api.post(`instances/${id}/requests/whoami`, { json: {} });
    expect(res.statusCode).to.equal(502);
    expect(res.body).to.deep.include({
      code: 'PLATFORM_ERROR',
      status: 502,
      errorSource: 'PLATFORM',
      attempts: 0,
      response: 'provider auth failed: the provider refused the grant: invalid_grant',
    });
    expect(provider.requests.filter((r) => r.path === '/me')).to.have.length(0);
    // A refused grant leaves the instance without a usable token: the next call is the 400.
    const again = await t.api.post(`instances/${id}/requests/whoami`, { json: {} });
    expect(again.statusCode).to.equal(400);
    expect(again.body).to.deep.include({ code: 'OAUTH_TOKEN_MISSING' });
  });
});
