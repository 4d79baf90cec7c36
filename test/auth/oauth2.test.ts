import { expect } from 'chai';
import got from 'got';
import { instanceCount, startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { pollNow, providerConnector, registerConnector } from '../poller/helpers.js';
import { bearerOf, capturedLogger, startOAuthServer, type OAuthProvider } from './helpers.js';

const MINUTE = 60_000;
const CALLBACK = 'http://127.0.0.1:9/oauth/callback';

/**
 * OAuth 2.0 (authorization code) end to end against an independent OAuth 2 server: the authorize
 * URL, the code exchange on POST /instances, bearer tokens on polls, refresh before expiry and after
 * a 401, refresh-token rotation, a refused code, a revoked grant, and no token in any answer or log.
 */
describe('provider auth: OAuth 2.0', () => {
  let t: TestGateway;
  let oauth: OAuthProvider;
  let provider: EmulatedProvider;
  let logs: string[];
  const answers: string[] = [];

  beforeEach(async () => {
    answers.length = 0;
    oauth = await startOAuthServer();
    provider = await EmulatedProvider.start({ requireAuth: { type: 'check', accept: (req) => oauth.valid.has(bearerOf(req.headers.authorization)) } });
    const captured = capturedLogger();
    logs = captured.lines;
    t = await startGateway({ options: { log: captured.log } });
    provider.now = () => t.clock.now();
    await registerConnector(
      t,
      providerConnector('acme', {
        configuration: [{ key: 'base_url', required: true }],
        auth: {
          type: 'oauth2',
          authorizationUrl: `${oauth.url}/oauth/authorize`,
          tokenUrl: `${oauth.url}/oauth/token`,
          scopes: ['contacts.read', 'contacts.write'],
          clientAuth: 'body',
          authorizationParams: { access_type: 'offline' },
        },
      } as never),
    );
    await registerConnector(t, providerConnector('plain'));
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
    await oauth.close();
  });

  /** Every API answer of the test, kept to check that no secret is ever in one. */
  async function api(method: 'get' | 'post' | 'patch', path: string, json?: unknown) {
    const res = await t.api[method](path, json === undefined ? {} : { json });
    answers.push(JSON.stringify(res.body));
    return res as typeof res & { body: Record<string, any> };
  }

  /** Follows the authorize URL the gateway gives, as a user's browser would: the provider redirects with a code. */
  async function authorize(state = 'st-1'): Promise<string> {
    const res = await api(
      'get',
      `elements/acme/oauth/url?apiKey=client-1&apiSecret=client-secret-1&callbackUrl=${encodeURIComponent(CALLBACK)}&state=${state}`,
    );
    expect(res.statusCode).to.equal(200);
    const url = new URL(res.body.oauthUrl);
    expect(`${url.origin}${url.pathname}`).to.equal(`${oauth.url}/oauth/authorize`);
    expect(Object.fromEntries(url.searchParams)).to.include({
      client_id: 'client-1',
      redirect_uri: CALLBACK,
      response_type: 'code',
      scope: 'contacts.read contacts.write',
      state,
      access_type: 'offline',
    });
    const redirect = await got(url, { followRedirect: false, throwHttpErrors: false });
    expect(redirect.statusCode).to.equal(302);
    const back = new URL(redirect.headers.location!);
    expect(`${back.origin}${back.pathname}`).to.equal(CALLBACK);
    expect(back.searchParams.get('state')).to.equal(state);
    return back.searchParams.get('code')!;
  }

  function instanceJson(code: string, extra: Record<string, unknown> = {}) {
    return {
      element: { key: 'acme' },
      name: 'Acme',
      providerData: { code },
      configuration: {
        base_url: provider.url,
        'oauth.api.key': 'client-1',
        'oauth.api.secret': 'client-secret-1',
        'oauth.callback.url': CALLBACK,
        'event.vendor.type': 'polling',
        'event.poller.refresh_interval': '5',
        ...extra,
      },
    };
  }

  async function createWithCode(expiresIn?: number): Promise<number> {
    const code = await authorize();
    if (expiresIn !== undefined) oauth.next.push((a) => void (a.body.expires_in = expiresIn));
    const res = await api('post', 'instances', instanceJson(code));
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    return res.body.id as number;
  }

  const contactRequests = () => provider.requests.filter((r) => r.path === '/contacts');
  const lastBearer = () => bearerOf(contactRequests().at(-1)!.headers.authorization);

  async function status(id: number) {
    return (await api('get', `instances/${id}/status`)).body as unknown as {
      auth: { type: string; state: string; expiresAt: string | null; lastRefreshAt: string | null; lastError: string | null };
      objects: Record<string, { lastError: string | null }>;
    };
  }

  it('exchanges the code on create, polls with the bearer token, refreshes before expiry and after a 401, and uses the rotated refresh token', async () => {
    const id = await createWithCode(120);
    const exchange = oauth.calls.at(-1)!;
    expect(exchange).to.deep.include({ grant: 'authorization_code', status: 200 });
    expect(exchange.body).to.include({ client_id: 'client-1', client_secret: 'client-secret-1', redirect_uri: CALLBACK });
    const first = exchange.answer;

    t.clock.advance(MINUTE / 2);
    provider.collection('contacts').upsert({ name: 'Ada' });
    expect((await pollNow(t, id)).contacts).to.include({ fetched: 1, created: 1 });
    expect(lastBearer()).to.equal(first.access_token);
    expect(oauth.calls).to.have.length(1);
    const fresh = await status(id);
    expect(fresh.auth).to.include({ type: 'oauth2', state: 'ok', lastError: null });
    expect(Date.parse(fresh.auth.expiresAt!)).to.equal(t.clock.now() - MINUTE / 2 + 120_000);

    // 61 s before expiry: refreshed before the request goes out.
    t.clock.advance(MINUTE / 2 + 1000);
    expect((await pollNow(t, id)).contacts.error).to.equal(undefined);
    expect(oauth.calls).to.have.length(2);
    expect(oauth.calls[1]).to.deep.include({ grant: 'refresh_token' });
    expect(oauth.calls[1].body.refresh_token).to.equal(first.refresh_token);
    const second = oauth.calls[1].answer;
    expect(second.refresh_token).to.be.a('string').and.not.equal(first.refresh_token);
    expect(lastBearer()).to.equal(second.access_token);
    expect(provider.requests.filter((r) => r.path === '/contacts' && bearerOf(r.headers.authorization) === first.access_token)).to.have.length(1);
    expect((await status(id)).auth.lastRefreshAt).to.equal(new Date(t.clock.now()).toISOString());

    // The provider revokes the access token: one 401, one refresh (with the rotated refresh token), one retry.
    oauth.valid.delete(second.access_token as string);
    const before = contactRequests().length;
    t.clock.advance(1000);
    expect((await pollNow(t, id)).contacts.error).to.equal(undefined);
    expect(oauth.calls).to.have.length(3);
    expect(oauth.calls[2].body.refresh_token).to.equal(second.refresh_token);
    const sent = contactRequests().slice(before);
    expect(sent.map((r) => bearerOf(r.headers.authorization))).to.deep.equal([second.access_token, oauth.calls[2].answer.access_token]);
  });

  it('a refused code answers 400 OAUTH_EXCHANGE_FAILED with the provider error, and stores no instance', async () => {
    const code = await authorize();
    oauth.next.push((a) => {
      a.statusCode = 400;
      a.body = { error: 'invalid_grant', error_description: 'the code has expired' };
    });
    const res = await api('post', 'instances', instanceJson(code));
    expect(res.statusCode).to.equal(400);
    expect(res.body).to.include({ code: 'OAUTH_EXCHANGE_FAILED' });
    expect(res.body.message).to.match(/invalid_grant.*the code has expired/);
    expect(res.body.details[0]).to.include({ error: 'invalid_grant', error_description: 'the code has expired' });
    expect(await instanceCount(t)).to.equal(0);
    expect(await t.gateway.db('instance_auth').count({ n: '*' }).first()).to.deep.include({ n: 0 });
  });

  it('a revoked grant puts one instance in auth state failed, stops its provider calls, and a PATCH with a new code resumes it', async () => {
    const a = await createWithCode();
    const b = await createWithCode();
    t.clock.advance(MINUTE);
    provider.collection('contacts').upsert({ name: 'Ada' });
    oauth.valid.clear(); // the provider revokes every access token…
    oauth.next.push((answer) => {
      answer.statusCode = 400;
      answer.body = { error: 'invalid_grant', error_description: 'refresh token revoked' };
    }); // …and the first refresh after that is refused

    const failed = await pollNow(t, a);
    expect(failed.contacts.error).to.match(/provider auth failed: .*invalid_grant.*refresh token revoked/);
    const s = await status(a);
    expect(s.auth).to.include({ type: 'oauth2', state: 'failed' });
    expect(s.auth.lastError).to.match(/invalid_grant/);
    const metrics = await got(`${t.url}/metrics`, { headers: { authorization: `Bearer ${t.config.auth.apiToken}` } }).text();
    expect(metrics).to.match(/pollgate_auth_failures_total\{element="acme"\} 1/);
    expect(logs.some((l) => /provider auth failed/.test(l) && /"instanceId":1/.test(l))).to.equal(true);

    // The other instance refreshes and goes on.
    expect((await pollNow(t, b)).contacts).to.include({ fetched: 1, created: 1 });
    expect((await status(b)).auth.state).to.equal('ok');

    // The failed one makes no provider call at all.
    const calls = provider.requests.length;
    const tokenCalls = oauth.calls.length;
    t.clock.advance(1000);
    expect((await pollNow(t, a)).contacts.error).to.match(/provider auth failed/);
    expect(provider.requests.length).to.equal(calls);
    expect(oauth.calls.length).to.equal(tokenCalls);

    // A PATCH without new credentials (the configuration sent back as shown) changes nothing of it.
    const shown = (await api('get', `instances/${a}`)).body.configuration;
    const resent = await api('patch', `instances/${a}`, { configuration: { ...shown, 'event.poller.refresh_interval': '6' } });
    expect(resent.statusCode, JSON.stringify(resent.body)).to.equal(200);
    expect((await status(a)).auth.state).to.equal('failed');

    // PATCH with a fresh code re-authenticates it.
    const code = await authorize();
    const patched = await api('patch', `instances/${a}`, { providerData: { code } });
    expect(patched.statusCode, JSON.stringify(patched.body)).to.equal(200);
    expect((await status(a)).auth).to.include({ state: 'ok', lastError: null });
    expect((await pollNow(t, a)).contacts).to.include({ fetched: 1, created: 1 });
  });

  it('refuses bad input with a clear 4xx and stores nothing', async () => {
    const bad = await api('post', 'elements', { ...providerConnector('weird'), auth: { type: 'oauth3', tokenUrl: 'http://127.0.0.1:9/t' } });
    expect(bad.statusCode).to.equal(400);
    expect(JSON.stringify(bad.body)).to.match(/auth/);

    const code = await authorize();
    const noKey = instanceJson(code);
    delete (noKey.configuration as Record<string, unknown>)['oauth.api.key'];
    const missing = await api('post', 'instances', noKey);
    expect(missing.statusCode).to.equal(400);
    expect(missing.body.details).to.deep.include({ field: 'configuration.oauth.api.key', message: 'is required by the oauth2 auth of "acme"' });

    const plain = await api('post', 'instances', {
      element: { key: 'plain' },
      providerData: { code },
      configuration: { base_url: provider.url, api_key: 'k-1' },
    });
    expect(plain.statusCode).to.equal(400);
    expect(plain.body.details[0]).to.include({ field: 'providerData' });

    const noCallback = await api('get', 'elements/acme/oauth/url?apiKey=client-1&apiSecret=x');
    expect(noCallback.statusCode).to.equal(400);
    expect(noCallback.body.message).to.match(/callbackUrl is required/);
    expect(oauth.calls).to.have.length(0);
    expect(await instanceCount(t)).to.equal(0);
  });

  it('/oauth/url refuses a callbackUrl that is not http(s), and generates a state when none is given', async () => {
    for (const callback of ['javascript:alert(document.cookie)', 'data:text/html,x', 'myapp://oauth', 'not a url']) {
      const res = await api('get', `elements/acme/oauth/url?apiKey=client-1&callbackUrl=${encodeURIComponent(callback)}`);
      expect(res.statusCode, callback).to.equal(400);
      expect(res.body.details).to.deep.equal([{ field: 'callbackUrl', message: 'must be an http or https URL' }]);
    }
    const states = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const res = await api('get', `elements/acme/oauth/url?apiKey=client-1&callbackUrl=${encodeURIComponent(CALLBACK)}`);
      expect(res.statusCode).to.equal(200);
      expect(res.body.state).to.match(/^[A-Za-z0-9_-]{22,}$/);
      expect(new URL(res.body.oauthUrl).searchParams.get('state')).to.equal(res.body.state);
      states.add(res.body.state);
    }
    expect(states.size).to.equal(2);
    // A state the caller gives is used and answered as is.
    const given = await api('get', `elements/acme/oauth/url?apiKey=client-1&callbackUrl=${encodeURIComponent(CALLBACK)}&state=mine`);
    expect(given.body).to.include({ state: 'mine', element: 'acme' });
  });

  it('never shows a token, refresh token or client secret in an API answer, a log line or a metric', async () => {
    const id = await createWithCode(90);
    t.clock.advance(MINUTE);
    await pollNow(t, id);
    oauth.valid.clear();
    await pollNow(t, id);
    const instance = await api('get', `instances/${id}`);
    expect(instance.body.configuration['oauth.api.secret']).to.equal('********');
    await api('get', 'instances');
    await status(id);
    const metrics = await got(`${t.url}/metrics`, { headers: { authorization: `Bearer ${t.config.auth.apiToken}` } }).text();
    const secrets = [
      'client-secret-1',
      ...oauth.calls.flatMap((c) => [c.answer.access_token, c.answer.refresh_token, c.body.code]).filter((v): v is string => typeof v === 'string'),
    ];
    expect(oauth.calls.length).to.be.at.least(3);
    for (const secret of secrets) {
      for (const text of [...answers, ...logs, metrics]) expect(text.includes(secret), `a secret in: ${text.slice(0, 200)}`).to.equal(false);
    }
    expect(logs.some((l) => /provider token refreshed/.test(l))).to.equal(true);
  });
});
