import { expect } from 'chai';
import got from 'got';
import { instanceCount, startGateway, API_TOKEN, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { Receiver } from '../providers/receiver.js';
import { Webhook } from 'standardwebhooks';
import { dispatcher } from '../delivery/helpers.js';
import { pollNow, providerConnector, registerConnector } from '../poller/helpers.js';
import { bearerOf, capturedLogger, startOAuthServer, type OAuthProvider } from '../auth/helpers.js';
import { APP_ORIGIN, CONNECT_CONFIG, newSession, publicUrlIsGateway, registerConnectors, verifySignature } from './helpers.js';

/**
 * The connect flow at the HTTP level (a browser's requests made with got): sessions API checks,
 * the form's fields, validation errors then success, CSRF, the OAuth 2.0 round trip through the
 * authorization server with state and PKCE, refusals (provider error, replayed and foreign state,
 * expiry), reconnect, and no token in any log. test/connect/connect.test.ts drives the same pages
 * in Chromium.
 */
describe('connect sessions and pages (HTTP)', () => {
  let t: TestGateway;
  let oauth: OAuthProvider;
  let provider: EmulatedProvider;
  let receiver: Receiver;
  let logs: string[];
  const browser = got.extend({ followRedirect: false, throwHttpErrors: false, retry: { limit: 0 } });

  beforeEach(async () => {
    oauth = await startOAuthServer();
    provider = await EmulatedProvider.start({
      requireAuth: { type: 'check', accept: (req) => oauth.valid.has(bearerOf(req.headers.authorization)) || req.headers.authorization === 'Bearer key-123' },
    });
    receiver = await Receiver.start();
    const captured = capturedLogger();
    logs = captured.lines;
    t = await startGateway({ config: CONNECT_CONFIG, options: { log: captured.log } });
    publicUrlIsGateway(t);
    provider.now = () => t.clock.now();
    provider.collection('contacts');
    await registerConnectors(t, oauth);
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
    await oauth.close();
    await receiver.close();
  });

  const preset = () => ({ 'event.notification.callback.url': `${receiver.url}/cb`, 'event.vendor.type': 'polling', 'event.poller.refresh_interval': '5' });
  const oauthPreset = () => ({ ...preset(), 'oauth.api.key': 'client-1', 'oauth.api.secret': 'client-secret-1' });
  const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)![1];

  async function submit(url: string, fields: Record<string, string>, o: { csrf?: string; origin?: string } = {}) {
    const page = await browser.get(url);
    return browser.post(url, {
      form: { csrf: o.csrf ?? csrfOf(page.body), connector: /name="connector" value="([^"]+)"/.exec(page.body)![1], ...fields },
      headers: { origin: o.origin ?? t.url },
    });
  }

  async function delivered(): Promise<Array<Record<string, any>>> {
    await dispatcher(t).drain();
    await dispatcher(t).idle();
    return receiver.received.map((r) => JSON.parse(r.raw.toString('utf8')));
  }

  it('refuses a session without a success URL, with one on an origin not allowed, or for an unknown connector, creating nothing', async () => {
    const bad = await t.api.post('connect/sessions', { json: { connector: 'nope', successUrl: 'https://evil.example/x', expiresInMinutes: 0 } });
    expect(bad.statusCode).to.equal(400);
    const fields = (bad.body as unknown as { details: Array<{ field: string; message: string }> }).details.map((d) => `${d.field} ${d.message}`);
    expect(fields).to.include.members([
      'connector unknown connector "nope"',
      'successUrl its origin https://evil.example is not in connect.allowedRedirectOrigins',
    ]);
    expect(fields.some((f) => f.startsWith('expiresInMinutes'))).to.equal(true);
    const missing = await t.api.post('connect/sessions', { json: { connector: 'keyscrm' } });
    expect(missing.statusCode).to.equal(400);
    expect(await t.gateway.db('connect_sessions').count({ n: '*' }).first()).to.deep.include({ n: 0 });
    // The page and the callback need no API token; the sessions API does.
    expect((await browser.post(`${t.url}/elements/api-v2/connect/sessions`, { json: {} })).statusCode).to.equal(401);
  });

  it('renders the form from the configuration schema, shows validation errors next to their fields, then connects and signs the result', async () => {
    const s = await newSession(t, { connector: 'keyscrm', name: 'Ada CRM', tags: ['team-a'], endUser: 'user-42', configuration: preset() });
    expect(s.url).to.equal(`${t.url}/connect/${s.token}`);
    expect(s.token).to.match(/^[A-Za-z0-9_-]{43}$/);
    const stored = await t.gateway.db('connect_sessions').first();
    expect(JSON.stringify(stored)).not.to.include(s.token);

    const page = await browser.get(s.url);
    expect(page.statusCode).to.equal(200);
    expect(page.headers['content-security-policy'])
      .to.match(/default-src 'none'/)
      .and.not.match(/script-src/);
    expect(page.headers['content-security-policy']).to.include(`form-action 'self' ${t.url} ${APP_ORIGIN}`);
    expect(page.headers['cache-control']).to.equal('no-store');
    expect(page.body).to.include('name="base_url" type="text" required').and.include('name="api_key" type="password" required');
    expect(page.body).to.include('An API key from your settings page');
    expect(page.body.match(/<button/g)).to.have.length(1);
    expect(page.body).not.to.include('event.notification.callback.url');

    // A base URL that is not a URL: the API's own validation, shown next to the field.
    const invalid = await submit(s.url, { base_url: 'not a url', api_key: 'key-123' });
    expect(invalid.statusCode, invalid.body).to.equal(400);
    expect(invalid.body).to.match(/data-field="base_url">[\s\S]*class="field-error"/);
    expect(invalid.body).to.include('value="not a url"').and.not.include('key-123');
    expect(await instanceCount(t)).to.equal(0);

    const ok = await submit(s.url, { base_url: provider.url, api_key: 'key-123' });
    expect(ok.statusCode).to.equal(303);
    const back = new URL(ok.headers.location!);
    expect(`${back.origin}${back.pathname}`).to.equal(`${APP_ORIGIN}/connected`);
    expect(back.searchParams.get('session')).to.equal(s.id);
    verifySignature(API_TOKEN, back);
    const id = Number(back.searchParams.get('instance_id'));
    const instance = (await t.api.get(`instances/${id}`)).body as unknown as Record<string, any>;
    expect(instance).to.include({ name: 'Ada CRM' });
    expect(instance.tags).to.deep.equal(['team-a']);
    expect(instance.configuration.api_key).to.equal('********');

    // Single-use: the page is gone, and the session says how it ended.
    expect((await browser.get(s.url)).statusCode).to.equal(404);
    expect((await t.api.get(`connect/sessions/${s.id}`)).body).to.include({ status: 'completed', instanceId: id, endUser: 'user-42' });
    const [event] = await delivered();
    expect(event.events[0]).to.include({ eventType: 'CONNECTED', objectType: 'connection', objectId: String(id) });
    expect(event.connect).to.deep.include({ session: s.id, endUser: 'user-42', tags: ['team-a'] });
    // Signed like every notification (Standard Webhooks, the instance's signing secret).
    const { secret } = (await t.api.get(`instances/${id}/signing-secret`)).body as unknown as { secret: string };
    const req = receiver.received[0];
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    const expected = new Webhook(secret).sign(headers['webhook-id'], new Date(Number(headers['webhook-timestamp']) * 1000), req.raw.toString('utf8'));
    expect(headers['webhook-signature'].split(' ')).to.include(expected);
    expect(logs.join('\n')).not.to.include(s.token);
  });

  it('two submissions of one form at once make one instance', async () => {
    const s = await newSession(t, { connector: 'keyscrm', configuration: preset() });
    const page = await browser.get(s.url);
    const form = { csrf: csrfOf(page.body), connector: 'keyscrm', base_url: provider.url, api_key: 'key-123' };
    const answers = await Promise.all([1, 2].map(() => browser.post(s.url, { form, headers: { origin: t.url } })));
    // The second finds the session held (409) or, if the first already finished, used (404).
    const [first, second] = answers.map((a) => a.statusCode).sort();
    expect(first).to.equal(303);
    expect(second).to.be.oneOf([404, 409]);
    expect(await instanceCount(t)).to.equal(1);
  });

  it('refuses a form without its CSRF value or posted from another site', async () => {
    const s = await newSession(t, { connector: 'keyscrm', configuration: preset() });
    const forged = await submit(s.url, { base_url: provider.url, api_key: 'key-123' }, { csrf: 'x'.repeat(43) });
    expect(forged.statusCode, `${forged.headers.location} ${forged.body}`).to.equal(403);
    const foreign = await submit(s.url, { base_url: provider.url, api_key: 'key-123' }, { origin: 'https://evil.example' });
    expect(foreign.statusCode, `${foreign.headers.location} ${foreign.body}`).to.equal(403);
    expect(foreign.body).to.include('another site');
    expect(await instanceCount(t)).to.equal(0);
  });

  it('OAuth 2.0: state and PKCE to the provider, the code exchanged on return, the instance polls with the issued token; the callback is single-use', async () => {
    const s = await newSession(t, { connector: 'oauthcrm', configuration: oauthPreset(), endUser: 'u-1' });
    const page = await browser.get(s.url);
    expect(page.body).to.include('name="base_url"').and.not.include('oauth.api');
    const leave = await submit(s.url, { base_url: provider.url });
    expect(leave.statusCode).to.equal(303);
    const authorize = new URL(leave.headers.location!);
    expect(`${authorize.origin}${authorize.pathname}`).to.equal(`${oauth.url}/oauth/authorize`);
    expect(Object.fromEntries(authorize.searchParams)).to.include({
      client_id: 'client-1',
      redirect_uri: `${t.url}/oauth/callback`,
      code_challenge_method: 'S256',
    });
    expect(authorize.searchParams.get('state')).to.match(/^[A-Za-z0-9_-]{43}$/);
    const atProvider = await browser.get(authorize);
    const callback = atProvider.headers.location!;
    const done = await browser.get(callback);
    expect(done.statusCode, done.body).to.equal(303);
    const back = new URL(done.headers.location!);
    verifySignature(API_TOKEN, back);
    const id = Number(back.searchParams.get('instance_id'));
    expect(oauth.calls.at(-1)!.body.code_verifier).to.match(/^[A-Za-z0-9_-]{43,}$/);

    t.clock.advance(1000);
    provider.collection('contacts').upsert({ name: 'Ada' });
    t.clock.advance(1000);
    expect((await pollNow(t, id)).contacts).to.include({ fetched: 1, created: 1 });
    expect(oauth.valid.has(bearerOf(provider.requests.at(-1)!.headers.authorization))).to.equal(true);
    expect((await delivered()).map((e) => e.events[0].eventType)).to.include('CONNECTED');

    // The same redirect again (a replay): a clear page, nothing new.
    const replay = await browser.get(callback);
    expect(replay.statusCode).to.equal(400);
    expect(replay.body).to.include('already used').and.include('unknown_state');
    const foreign = await browser.get(`${t.url}/oauth/callback?state=${'A'.repeat(43)}&code=abc`);
    expect(foreign.statusCode).to.equal(400);
    expect(await instanceCount(t)).to.equal(1);
  });

  it("OAuth 2.0 with redirect values kept (callbackParams): the page does not ask for them; the provider's redirect fills them", async () => {
    await registerConnector(
      t,
      providerConnector('realmcrm', {
        configuration: [
          { key: 'base_url', required: true, description: 'Your account address' },
          { key: 'company.id', required: true, description: 'The company the user picks at the provider' },
        ],
        auth: {
          type: 'oauth2',
          authorizationUrl: `${oauth.url}/oauth/authorize`,
          tokenUrl: `${oauth.url}/oauth/token`,
          clientAuth: 'body',
          callbackParams: { realmId: 'company.id' },
        },
      } as never),
    );
    const s = await newSession(t, { connector: 'realmcrm', configuration: oauthPreset() });
    const page = await browser.get(s.url);
    expect(page.body).to.include('name="base_url"').and.not.include('name="company.id"');
    const leave = await submit(s.url, { base_url: provider.url });
    expect(leave.statusCode, leave.body).to.equal(303);
    const atProvider = await browser.get(new URL(leave.headers.location!));
    // The provider adds the company the user picked to its redirect, as Intuit adds realmId.
    const callback = new URL(atProvider.headers.location!);
    callback.searchParams.set('realmId', '4620816365');
    const done = await browser.get(callback);
    expect(done.statusCode, done.body).to.equal(303);
    const id = Number(new URL(done.headers.location!).searchParams.get('instance_id'));
    const instance = (await t.api.get(`instances/${id}`)).body as unknown as { configuration: Record<string, unknown> };
    expect(instance.configuration['company.id']).to.equal('4620816365');
  });

  it('a refused authorization and an expired session create nothing and say why', async () => {
    oauth.server.service.once('beforeAuthorizeRedirect', (redirect: { url: URL }) => {
      redirect.url.searchParams.delete('code');
      redirect.url.searchParams.set('error', 'access_denied');
      redirect.url.searchParams.set('error_description', 'The user denied access');
    });
    const refused = await newSession(t, { connector: 'oauthcrm', configuration: oauthPreset() });
    const leave = await submit(refused.url, { base_url: provider.url });
    const back = await browser.get((await browser.get(leave.headers.location!)).headers.location!);
    expect(back.statusCode).to.equal(303);
    const error = new URL(back.headers.location!);
    expect(`${error.origin}${error.pathname}`).to.equal(`${APP_ORIGIN}/failed`);
    expect(Object.fromEntries(error.searchParams)).to.include({ error: 'access_denied', error_description: 'The user denied access', session: refused.id });

    const noErrorUrl = await t.api.post('connect/sessions', { json: { connector: 'keyscrm', successUrl: `${APP_ORIGIN}/ok`, expiresInMinutes: 1 } });
    const expiring = noErrorUrl.body as unknown as { url: string; id: string };
    t.clock.advance(61_000);
    const expired = await browser.get(expiring.url);
    expect(expired.statusCode).to.equal(410);
    expect(expired.body).to.include('expired');
    expect((await t.api.get(`connect/sessions/${expiring.id}`)).body).to.include({ status: 'failed' });
    expect(await instanceCount(t)).to.equal(0);
  });

  it('reconnect: a revoked grant is replaced through a session for the instance; same id, polling again, RECONNECTED delivered', async () => {
    const s = await newSession(t, { connector: 'oauthcrm', configuration: oauthPreset() });
    const leave = await submit(s.url, { base_url: provider.url });
    const done = await browser.get((await browser.get(leave.headers.location!)).headers.location!);
    const id = Number(new URL(done.headers.location!).searchParams.get('instance_id'));
    expect((await pollNow(t, id)).contacts.error).to.equal(undefined);

    oauth.valid.clear();
    oauth.next.push((answer) => {
      answer.statusCode = 400;
      answer.body = { error: 'invalid_grant', error_description: 'refresh token revoked' };
    });
    t.clock.advance(60_000);
    expect((await pollNow(t, id)).contacts.error).to.match(/invalid_grant/);
    expect(((await t.api.get(`instances/${id}/status`)).body as unknown as Record<string, any>).auth.state).to.equal('failed');

    provider.collection('contacts').upsert({ name: 'Grace' });
    const again = await newSession(t, { instance: { id } });
    const form = await browser.get(again.url);
    expect(form.body).to.include('Reconnect');
    const out = await submit(again.url, {});
    const back = await browser.get((await browser.get(out.headers.location!)).headers.location!);
    const url = new URL(back.headers.location!);
    verifySignature(API_TOKEN, url);
    expect(Number(url.searchParams.get('instance_id'))).to.equal(id);
    const status = (await t.api.get(`instances/${id}/status`)).body as unknown as Record<string, any>;
    expect(status.auth.state).to.equal('ok');
    expect(Date.parse(status.objects.contacts.nextPollDate)).to.be.at.most(t.clock.now());
    t.clock.advance(1000);
    expect((await pollNow(t, id)).contacts).to.include({ created: 1 });
    const events = (await delivered()).map((e) => e.events[0].eventType);
    expect(events).to.include('RECONNECTED');
    expect(await instanceCount(t)).to.equal(1);
  });

  it('a refused reconnect delivers CONNECT_FAILED with the provider error and leaves the instance as it was', async () => {
    const s = await newSession(t, { connector: 'oauthcrm', configuration: oauthPreset(), endUser: 'u-9' });
    const leave = await submit(s.url, { base_url: provider.url });
    const done = await browser.get((await browser.get(leave.headers.location!)).headers.location!);
    const id = Number(new URL(done.headers.location!).searchParams.get('instance_id'));
    const before = (await t.api.get(`instances/${id}`)).body;

    oauth.server.service.once('beforeAuthorizeRedirect', (redirect: { url: URL }) => {
      redirect.url.searchParams.delete('code');
      redirect.url.searchParams.set('error', 'access_denied');
    });
    const again = await newSession(t, { instance: { id }, endUser: 'u-9' });
    const out = await submit(again.url, {});
    const back = await browser.get((await browser.get(out.headers.location!)).headers.location!);
    expect(Object.fromEntries(new URL(back.headers.location!).searchParams)).to.include({ error: 'access_denied', session: again.id });
    const events = await delivered();
    const failed = events.find((e) => e.events[0].eventType === 'CONNECT_FAILED')!;
    expect(failed.connect).to.deep.include({ session: again.id, endUser: 'u-9' });
    expect(failed.connect.error).to.include({ error: 'access_denied' });
    expect((await t.api.get(`instances/${id}`)).body).to.deep.equal(before);
    expect((await t.api.get(`connect/sessions/${again.id}`)).body).to.include({ status: 'failed' });
  });

  it('a first connect that fails delivers CONNECT_FAILED bound to the session: signed with its secret, retried under one id', async () => {
    oauth.server.service.once('beforeAuthorizeRedirect', (redirect: { url: URL }) => {
      redirect.url.searchParams.delete('code');
      redirect.url.searchParams.set('error', 'access_denied');
      redirect.url.searchParams.set('error_description', 'The user denied access');
    });
    const s = (await newSession(t, { connector: 'oauthcrm', configuration: oauthPreset(), endUser: 'u-1', tags: ['trial'] })) as Awaited<
      ReturnType<typeof newSession>
    > & { signingSecret: string };
    expect(s.signingSecret).to.match(/^whsec_/);
    const leave = await submit(s.url, { base_url: provider.url });
    await browser.get((await browser.get(leave.headers.location!)).headers.location!);
    expect(await instanceCount(t)).to.equal(0);

    // The receiver fails the first try: the event is retried on the schedule, under the same webhook-id.
    receiver.respondWith({ status: 503 });
    await dispatcher(t).drain();
    await dispatcher(t).idle();
    expect(receiver.received).to.have.length(1);
    t.clock.advance(60_000);
    const [first, retried] = await delivered();
    expect(retried.events[0]).to.include({ eventType: 'CONNECT_FAILED', objectType: 'connection', objectId: s.id });
    expect(retried.connect).to.deep.include({ session: s.id, endUser: 'u-1', tags: ['trial'] });
    expect(retried.connect.error).to.include({ error: 'access_denied', description: 'The user denied access' });
    expect(retried.instanceId).to.equal(null);
    expect(first).to.deep.equal(retried);
    const [a, b] = receiver.received;
    expect(a.headers['webhook-id']).to.equal(b.headers['webhook-id']);
    // The app verifies it with the session's signing secret, as it would an instance's notification.
    const headers = Object.fromEntries(Object.entries(b.headers).map(([k, v]) => [k, String(v)]));
    const ts = Number(headers['webhook-timestamp']);
    const expected = new Webhook(s.signingSecret).sign(headers['webhook-id'], new Date(ts * 1000), b.raw.toString('utf8'));
    expect(headers['webhook-signature'].split(' ')).to.include(expected);
    const row = await t.gateway.db('notifications').first();
    expect(row).to.include({ status: 'delivered', instance_id: null });
    // Its session pruned meanwhile, a replayed notification goes nowhere: dead, not retried forever.
    await t.gateway.db('notifications').update({ status: 'pending', next_attempt_at: t.clock.now() });
    await t.gateway.db('connect_sessions').delete();
    await dispatcher(t).drain();
    await dispatcher(t).idle();
    expect(receiver.received).to.have.length(2);
    expect(await t.gateway.db('notifications').first()).to.include({ status: 'dead' });
  });

  it("the page does not ask for keys a webhook registration fills (Airtable's webhook id and MAC secret)", async () => {
    const s = await newSession(t, { connector: 'airtable', configuration: { ...preset(), 'event.vendor.type': 'webhook' } });
    const page = await browser.get(s.url);
    for (const key of ['api.key', 'airtable.base.id', 'airtable.table']) expect(page.body).to.include(`name="${key}"`);
    for (const key of ['airtable.webhook.id', 'webhook.secret']) expect(page.body).to.not.include(`name="${key}"`);
  });

  it('sessions left unfinished past their expiry (the form never sent, or the user never back from the provider) deliver CONNECT_FAILED "expired" once', async () => {
    const unsent = await newSession(t, { connector: 'keyscrm', configuration: preset(), endUser: 'u-5', expiresInMinutes: 30 });
    const away = await newSession(t, { connector: 'oauthcrm', configuration: oauthPreset(), endUser: 'u-6', expiresInMinutes: 30 });
    expect((await submit(away.url, { base_url: provider.url })).statusCode).to.equal(303);
    const expiry = t.gateway.connect.expiry;
    t.clock.advance(31 * 60_000);
    // Within the grace: a user coming back from the provider now is told by the callback itself.
    expect(await expiry.tick()).to.equal(0);
    t.clock.advance(5 * 60_000);
    expect(await expiry.tick()).to.equal(2);
    expect(await expiry.tick()).to.equal(0);
    const failed = (await delivered()).filter((e) => e.events[0].eventType === 'CONNECT_FAILED');
    expect(failed.map((e) => [e.connect.session, e.connect.endUser, e.connect.error.error]).sort()).to.deep.equal(
      [
        [unsent.id, 'u-5', 'expired'],
        [away.id, 'u-6', 'expired'],
      ].sort(),
    );
    for (const id of [unsent.id, away.id]) expect((await t.api.get(`connect/sessions/${id}`)).body).to.include({ status: 'failed' });
    expect(await instanceCount(t)).to.equal(0);
  });

  it('the retention loop deletes connect sessions expired longer ago than retention.connectSessionsDays, and no others', async () => {
    const old = await newSession(t, { connector: 'keyscrm', expiresInMinutes: 1 });
    t.clock.advance(7 * 24 * 3_600_000);
    const fresh = await newSession(t, { connector: 'keyscrm' });
    expect((await t.gateway.retention.prune()).connectSessions).to.equal(0);
    t.clock.advance(120_000);
    expect((await t.gateway.retention.prune()).connectSessions).to.equal(1);
    expect((await t.api.get(`connect/sessions/${old.id}`)).statusCode).to.equal(404);
    expect((await t.api.get(`connect/sessions/${fresh.id}`)).statusCode).to.equal(200);
  });
});
