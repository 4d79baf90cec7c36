import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { createInstance, pollNow, providerConnector, registerConnector } from '../poller/helpers.js';
import { bearerOf, startTokenEndpoint, type TokenEndpoint } from './helpers.js';

const MINUTE = 60_000;
const CALLBACK = 'http://127.0.0.1:9/oauth/callback';

type Problem = { field: string; message: string };

/**
 * A PATCH that moves where an instance's secrets go — the OAuth origin (`oauth.base.url`), the
 * API base, a value a request template's host is built from — must bring those secrets again,
 * and for OAuth a new grant; otherwise it is refused (400) and nothing is sent to the new host.
 */
describe('provider auth: a PATCH that moves where secrets go', () => {
  let t: TestGateway;
  let tokens: TokenEndpoint;
  let elsewhere: TokenEndpoint;
  let provider: EmulatedProvider;

  beforeEach(async () => {
    tokens = await startTokenEndpoint();
    elsewhere = await startTokenEndpoint();
    const accepted = (token: string) => tokens.issued.has(token) || elsewhere.issued.has(token);
    provider = await EmulatedProvider.start({ requireAuth: { type: 'check', accept: (req) => accepted(bearerOf(req.headers.authorization)) } });
    t = await startGateway();
    provider.now = () => t.clock.now();
    await registerConnector(
      t,
      providerConnector('acme', {
        configuration: [{ key: 'base_url', required: true }],
        auth: { type: 'oauth2', authorizationUrl: `${tokens.url}/oauth/authorize`, tokenUrl: `${tokens.url}/oauth/token`, clientAuth: 'body' },
      } as never),
    );
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
    await tokens.close();
    await elsewhere.close();
  });

  const patch = async (id: number, body: Record<string, unknown>) => {
    const res = await t.api.patch(`instances/${id}`, { json: body });
    return { status: res.statusCode, problems: ((res.body as unknown as { details?: Problem[] }).details ?? []).map((p) => p.field), body: res.body };
  };

  it('refuses oauth.base.url or the API base moved without the client secret and a new grant, and the next refresh stays where it was', async () => {
    const created = await t.api.post('instances', {
      json: {
        element: { key: 'acme' },
        providerData: { code: 'code-1' },
        configuration: {
          base_url: provider.url,
          'oauth.api.key': 'client-1',
          'oauth.api.secret': 'client-secret-1',
          'oauth.callback.url': CALLBACK,
          'event.vendor.type': 'polling',
        },
      },
    });
    expect(created.statusCode, JSON.stringify(created.body)).to.equal(201);
    const id = (created.body as unknown as { id: number }).id;

    const moved = await patch(id, { configuration: { 'oauth.base.url': elsewhere.url } });
    expect(moved.status, JSON.stringify(moved.body)).to.equal(400);
    expect(moved.problems).to.have.members(['configuration.oauth.api.key', 'configuration.oauth.api.secret', 'providerData']);
    expect(JSON.stringify(moved.body)).to.match(/another host \(auth\.tokenUrl, auth\.authorizationUrl\)/);
    // The client secret given again is not enough: the stored grant would go there too.
    const withSecrets = await patch(id, {
      configuration: { 'oauth.base.url': elsewhere.url, 'oauth.api.key': 'client-1', 'oauth.api.secret': 'client-secret-2' },
    });
    expect(withSecrets.problems).to.deep.equal(['providerData']);
    // Moving the API base moves the access token: a new grant is needed as well.
    expect((await patch(id, { configuration: { base_url: `${elsewhere.url}/api` } })).problems).to.include('providerData');

    // Nothing went to the other host; the next refresh goes to the token URL as before.
    t.clock.advance(MINUTE + 1000);
    provider.collection('contacts').upsert({ name: 'Ada' });
    expect((await pollNow(t, id)).contacts).to.include({ fetched: 1, created: 1 });
    expect(elsewhere.server.requests).to.deep.equal([]);
    expect(tokens.calls().map((c) => c.grant_type)).to.deep.equal(['authorization_code', 'refresh_token']);

    // With the secrets and a code from there, the instance moves: the code is exchanged there.
    const reauthorized = await patch(id, {
      providerData: { code: 'code-2' },
      configuration: { 'oauth.base.url': elsewhere.url, 'oauth.api.key': 'client-1', 'oauth.api.secret': 'client-secret-2' },
    });
    expect(reauthorized.status, JSON.stringify(reauthorized.body)).to.equal(200);
    expect(elsewhere.calls()).to.have.length(1);
    expect(elsewhere.calls()[0]).to.include({ grant_type: 'authorization_code', code: 'code-2', client_secret: 'client-secret-2' });
    t.clock.advance(1000);
    provider.collection('contacts').upsert({ name: 'Bea' });
    expect((await pollNow(t, id)).contacts).to.include({ created: 1 });
    expect(bearerOf(provider.requests.at(-1)!.headers.authorization)).to.equal([...elsewhere.issued][0]);
  });

  it("refuses a value that moves a request template's host without the secrets its headers carry", async () => {
    await registerConnector(
      t,
      providerConnector('templated', {
        configuration: [
          { key: 'base_url', required: true },
          { key: 'api_key', required: true, secret: true },
          { key: 'api_host', required: true },
        ],
        requests: {
          ping: {
            schema: {
              protocol: 'http',
              host: `<%= iparam.api_host %>:${new URL(provider.url).port}`,
              path: '/ping',
              headers: { 'X-Key': '<%= iparam.api_key %>' },
            },
          },
        },
      } as never),
    );
    const { id } = await createInstance(t, 'templated', provider.url, { api_host: 'localhost' });
    // Template hosts are domain names built from non-secret values (no IP address, no port in a value).
    const moved = await patch(id, { configuration: { api_host: 'elsewhere.localhost' } });
    expect(moved.status).to.equal(400);
    expect(moved.body).to.deep.include({
      details: [{ field: 'configuration.api_key', message: 'must be given again in this PATCH: the change sends it to another host (requests.ping)' }],
    });
    expect((await patch(id, { configuration: { api_host: 'elsewhere.localhost', api_key: 'new-key' } })).status).to.equal(200);
  });
});
