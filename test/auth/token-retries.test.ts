import { expect } from 'chai';
import { instanceCount, startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { pollNow, providerConnector, registerConnector } from '../poller/helpers.js';
import { bearerOf, startTokenEndpoint, type TokenEndpoint } from './helpers.js';
import { type ProviderError, sendProviderRequest, type RetryPolicy } from '../../src/provider/http-client.js';
import { Outbound } from '../../src/network/outbound.js';

const MINUTE = 60_000;
const CALLBACK = 'http://127.0.0.1:9/oauth/callback';

/**
 * What a token request sends twice. The token endpoint is an emulated one whose answers the test
 * scripts: a request held past the gateway's token timeout (`provider.tokenTimeoutSeconds`) and
 * answered afterwards, as a slow provider does; a 503; a 502 from a gateway in front of it.
 * An authorization code is single-use (RFC 6749 §4.1.2): it is never sent again once the request
 * may have arrived. A refresh is sent again only after an answer of the token endpoint's own that
 * issued nothing (429, 5xx but 502/504): a refresh token is revoked, if at all, when a new one is
 * issued (RFC 6749 §6), and presenting a rotated one again revokes the whole grant (RFC 9700 §4.14.2).
 */
describe('provider auth: token requests after a timeout', () => {
  let t: TestGateway;
  let tokens: TokenEndpoint;
  let provider: EmulatedProvider;

  beforeEach(async () => {
    tokens = await startTokenEndpoint();
    provider = await EmulatedProvider.start({ requireAuth: { type: 'check', accept: (req) => tokens.issued.has(bearerOf(req.headers.authorization)) } });
    t = await startGateway({ config: { provider: { tokenTimeoutSeconds: 0.2 } } });
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
  });

  const create = (code: string) =>
    t.api.post('instances', {
      json: {
        element: { key: 'acme' },
        providerData: { code },
        configuration: {
          base_url: provider.url,
          'oauth.api.key': 'client-1',
          'oauth.api.secret': 'client-secret-1',
          'oauth.callback.url': CALLBACK,
          'event.vendor.type': 'polling',
          'event.poller.refresh_interval': '5',
        },
      },
    });

  it('sends an authorization code once: a token endpoint that answers after the timeout gets no second exchange', async () => {
    tokens.script.push('hold');
    const res = await create('code-1');
    expect(tokens.calls().length, 'code exchanges sent').to.equal(1);
    expect(res.statusCode).to.equal(502);
    expect(res.body).to.deep.include({ code: 'OAUTH_EXCHANGE_FAILED' });
    expect((res.body as unknown as { message: string }).message).to.match(/timed out.*not sent again/);
    tokens.release(); // the provider answers now, to a client that is gone
    expect(await instanceCount(t)).to.equal(0);

    // A refused exchange is not sent again either; a fresh code works.
    tokens.script.push({ status: 500, body: { error: 'server_error' } });
    expect((await create('code-2')).statusCode).to.equal(400);
    expect(tokens.calls().map((c) => c.code)).to.deep.equal(['code-1', 'code-2']);
    expect((await create('code-3')).statusCode).to.equal(201);
    expect(tokens.calls().map((c) => c.code)).to.deep.equal(['code-1', 'code-2', 'code-3']);
  });

  it('sends a refresh again after a 503 but not after a timeout or a 502, and the next call refreshes with the same token', async () => {
    const created = await create('code-1');
    expect(created.statusCode).to.equal(201);
    const id = (created.body as unknown as { id: number }).id;
    const refreshes = () => tokens.calls().filter((c) => c.grant_type === 'refresh_token');

    // 61 s before expiry the token is refreshed first; the token endpoint answers too late.
    t.clock.advance(MINUTE);
    provider.collection('contacts').upsert({ name: 'Ada' });
    tokens.script.push('hold');
    const late = await pollNow(t, id);
    expect(refreshes().length, 'refreshes sent').to.equal(1);
    expect(late.contacts.error).to.match(/timed out/);
    tokens.release();
    const status = (await t.api.get(`instances/${id}/status`)).body as unknown as { auth: { state: string; lastError: string } };
    expect(status.auth.state).to.equal('ok');
    expect(status.auth.lastError).to.match(/token refresh failed: .*timed out/);

    // A 502 from a gateway in front of the token endpoint: a token may have been issued; not sent again.
    t.clock.advance(1000);
    tokens.script.push({ status: 502, body: 'bad gateway' });
    expect((await pollNow(t, id)).contacts.error).to.match(/HTTP 502|invalid_response/);
    expect(refreshes().length).to.equal(2);

    // The token endpoint's own 503: nothing was issued, so the refresh goes again at once.
    t.clock.advance(1000);
    tokens.script.push({ status: 503, body: { error: 'temporarily_unavailable' } });
    const polled = await pollNow(t, id);
    expect(polled.contacts, JSON.stringify(polled)).to.include({ fetched: 1, created: 1 });
    expect(refreshes().map((c) => c.refresh_token)).to.deep.equal(['rt-1', 'rt-1', 'rt-1', 'rt-1']);
    expect(bearerOf(provider.requests.at(-1)!.headers.authorization)).to.equal([...tokens.issued].at(-1));
  });
});

/** The retry policies themselves, on one provider call each: what counts as "may have arrived". */
describe('provider calls: retry policies', () => {
  let server: EmulatedProvider;
  let outbound: Outbound;
  beforeEach(async () => {
    server = await EmulatedProvider.start();
    outbound = new Outbound();
  });
  afterEach(() => {
    outbound.close();
    return server.close();
  });

  const send = async (url: string, retry: RetryPolicy) =>
    sendProviderRequest(
      { method: 'POST', url, headers: {}, body: 'grant_type=refresh_token' },
      { outbound, maxAttempts: 2, retryDelayMs: 0, timeoutMs: 200, retry, policy: { allowLoopback: true, allowPrivate: false } },
    ).then(
      (r) => ({ attempts: r.attempts, error: undefined }),
      (e: ProviderError) => ({ attempts: e.attempts, error: e.message }),
    );

  it('sends again after a refused connection under every policy, after a timeout only under "any"', async () => {
    const closed = await EmulatedProvider.start();
    const closedUrl = `${closed.url}/token`;
    await closed.close();
    for (const retry of ['any', 'unsent', 'unissued'] as const) expect((await send(closedUrl, retry)).attempts, retry).to.equal(2);

    server.delayNext(3, 1000, { path: '/slow' });
    expect(await send(`${server.url}/slow`, 'unsent')).to.deep.include({ attempts: 1 });
    expect((await send(`${server.url}/slow`, 'unissued')).error).to.match(/timed out after 0.2 s \(not sent again: the request may have arrived\)/);
    // The ordinary policy sends the timed-out request again: two of the three delays are used.
    expect((await send(`${server.url}/slow`, 'any')).attempts).to.equal(2);
  });

  it('sends again after 429 and the endpoint\'s own 5xx under "unissued", never after 502 or 504; nothing under "unsent"', async () => {
    const attemptsAfter = async (status: number, retry: RetryPolicy) => {
      server.failNext(1, { status, body: { error: 'x' } }, { path: '/token' });
      return (await send(`${server.url}/token`, retry)).attempts;
    };
    server.route('POST', '/token', () => ({ status: 200, body: { ok: true } }));
    expect(await attemptsAfter(503, 'unissued')).to.equal(2);
    expect(await attemptsAfter(500, 'unissued')).to.equal(2);
    expect(await attemptsAfter(429, 'unissued')).to.equal(2);
    expect(await attemptsAfter(502, 'unissued')).to.equal(1);
    expect(await attemptsAfter(504, 'unissued')).to.equal(1);
    expect(await attemptsAfter(503, 'unsent')).to.equal(1);
    expect(await attemptsAfter(502, 'any')).to.equal(2);
  });
});
