import { expect } from 'chai';
import got from 'got';
import { instanceCount, startGateway, type TestGateway } from '../helpers/gateway.js';
import { pollNow } from '../poller/helpers.js';
import { bearerOf, startOAuthServer, type OAuthProvider } from '../auth/helpers.js';
import { docInstanceJson, docOAuthInstanceJson } from './catalog.js';
import { HubSpotEmulator } from './hubspot/emulator.js';
import { GitHubProvider } from './github/github.js';
import { JiraProvider } from './jira/jira.js';
import { ZendeskEmulator } from './zendesk/emulator.js';
import { IntercomEmulator } from './intercom/emulator.js';
import { SlackEmulator } from './slack/emulator.js';
import { LinearEmulator } from './linear/emulator.js';
import type { EmulatedProvider } from '../../sandbox/provider-server.js';
import { join } from 'node:path';
import { projectRoot } from '../../src/config/index.js';
import { openApiFromPackage, validateRequest } from './openapi-validator.js';

/**
 * The catalog connectors that offer OAuth 2.0 beside a token (`"auth": [ … ]` alternatives): the
 * OAuth alternative end to end — /oauth/url, the provider's authorize redirect, the doc page's
 * OAuth instance JSON with the code, polls with the bearer token — against each provider's
 * emulator and an independent OAuth server on the provider's own paths; a configuration that fits
 * no alternative is refused and stores nothing. (The token alternatives are the connectors' own tests.)
 */
const MINUTE = 60_000;

/** GET /oauth/url with the doc JSON's client, then the provider's authorize step as a browser follows it. */
async function authorize(t: TestGateway, key: string, oauthOrigin: string, extra: Record<string, string> = {}) {
  const doc = docOAuthInstanceJson(key).configuration;
  const query = new URLSearchParams({
    apiKey: String(doc['oauth.api.key']),
    apiSecret: String(doc['oauth.api.secret']),
    callbackUrl: String(doc['oauth.callback.url']),
    state: 'st-1',
    'oauth.base.url': oauthOrigin,
    ...extra,
  });
  const res = await t.api.get(`elements/${key}/oauth/url?${query}`);
  expect(res.statusCode, JSON.stringify(res.body)).to.equal(200);
  const url = new URL((res.body as unknown as { oauthUrl: string }).oauthUrl);
  const redirect = await got(url, { followRedirect: false, throwHttpErrors: false, retry: { limit: 0 } });
  expect(redirect.statusCode, redirect.body).to.equal(302);
  const back = new URL(redirect.headers.location!);
  expect(`${back.origin}${back.pathname}`).to.equal(doc['oauth.callback.url']);
  expect(back.searchParams.get('state')).to.equal('st-1');
  return { url, code: back.searchParams.get('code')! };
}

/** POSTs the doc page's OAuth instance JSON as written, with the code and the test's addresses. */
function postOAuthDoc(t: TestGateway, key: string, code: string, configuration: Record<string, unknown>) {
  const json = docOAuthInstanceJson(key);
  return t.api.post('instances', {
    json: { ...json, providerData: { ...json.providerData, code }, configuration: { ...json.configuration, ...configuration } },
  });
}

async function createWithOAuth(t: TestGateway, key: string, code: string, configuration: Record<string, unknown>) {
  const res = await postOAuthDoc(t, key, code, configuration);
  expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
  const created = res.body as unknown as { id: number; configuration: Record<string, unknown> };
  expect(JSON.stringify(created)).to.not.match(/access_token|refresh_token/);
  expect(created.configuration['oauth.api.secret']).to.equal('********');
  return created.id;
}

/** A configuration with neither alternative's keys: 400 naming them, nothing stored. */
async function expectRefusedWithoutAuth(t: TestGateway, key: string, dropped: string[], names: RegExp) {
  const json = docInstanceJson(key);
  const configuration = Object.fromEntries(Object.entries(json.configuration).filter(([k]) => !dropped.includes(k)));
  const before = await instanceCount(t);
  const res = await t.api.post('instances', { json: { ...json, configuration: { ...configuration, 'base.url': 'http://127.0.0.1:9' } } });
  expect(res.statusCode).to.equal(400);
  const body = res.body as unknown as { message: string; details: Array<{ field: string; message: string }> };
  expect(body.details.find((d) => d.field === 'configuration')?.message).to.match(names);
  expect(await instanceCount(t)).to.equal(before);
}

describe('catalog connectors with auth alternatives: OAuth 2.0', () => {
  let t: TestGateway;
  let oauth: OAuthProvider | undefined;

  beforeEach(async () => {
    t = await startGateway();
  });

  afterEach(async () => {
    await t.close();
    await oauth?.close();
    oauth = undefined;
  });

  describe('hubspot', () => {
    let hs: HubSpotEmulator;
    beforeEach(async () => {
      oauth = await startOAuthServer({ token: '/oauth/v1/token', authorize: '/oauth/authorize' });
      hs = await HubSpotEmulator.start();
      hs.provider.now = () => t.clock.now();
      hs.provider.requireAuth = { type: 'check', accept: (req) => oauth!.valid.has(bearerOf(req.headers.authorization)) };
    });
    afterEach(() => hs.close());

    it('authorize, exchange on create, polls with the bearer token, refreshed when the 30-minute token is due', async () => {
      const { url, code } = await authorize(t, 'hubspot', oauth!.url);
      expect(url.pathname).to.equal('/oauth/authorize');
      expect(url.searchParams.get('scope')).to.equal('crm.objects.contacts.read crm.objects.companies.read crm.objects.deals.read');
      oauth!.next.push((a) => void (a.body.expires_in = 1800));
      const id = await createWithOAuth(t, 'hubspot', code, { 'oauth.base.url': oauth!.url, 'base.url': hs.baseUrl });
      const exchange = oauth!.calls.at(-1)!;
      expect(exchange).to.deep.include({ grant: 'authorization_code', status: 200 });
      expect(exchange.body).to.include({
        client_id: 'your-app-client-id',
        client_secret: 'your-app-client-secret',
        redirect_uri: 'https://app.example.com/oauth/hubspot',
      });

      t.clock.advance(MINUTE);
      hs.objects.contacts.upsert({ email: 'ada@example.com' });
      expect((await pollNow(t, id)).contacts).to.include({ fetched: 1, created: 1 });
      const searches = () => hs.provider.requests.filter((r) => r.path === '/crm/v3/objects/contacts/search');
      expect(bearerOf(searches().at(-1)!.headers.authorization)).to.equal(exchange.answer.access_token);

      t.clock.advance(29 * MINUTE);
      expect((await pollNow(t, id)).contacts.error).to.equal(undefined);
      expect(oauth!.calls.at(-1)).to.deep.include({ grant: 'refresh_token', status: 200 });
      expect(bearerOf(searches().at(-1)!.headers.authorization)).to.equal(oauth!.calls.at(-1)!.answer.access_token);
      const status = (await t.api.get(`instances/${id}/status`)).body as unknown as { auth: { type: string; state: string } };
      expect(status.auth).to.include({ type: 'oauth2', state: 'ok' });
    });

    it('a configuration that fits neither the token nor OAuth is refused (400) and stores nothing; providerData with a token configuration too', async () => {
      await expectRefusedWithoutAuth(t, 'hubspot', ['api.key'], /set oauth\.api\.key \(oauth2\) or api\.key \(bearer\)/);
      const json = docInstanceJson('hubspot');
      const res = await t.api.post('instances', {
        json: { ...json, providerData: { code: 'x' }, configuration: { ...json.configuration, 'base.url': hs.baseUrl } },
      });
      expect(res.statusCode).to.equal(400);
      expect(JSON.stringify(res.body)).to.match(/set oauth\.api\.key to use its oauth2 alternative/);
      expect(await instanceCount(t)).to.equal(0);
    });
  });

  describe('github', () => {
    let github: GitHubProvider;
    const doc = docOAuthInstanceJson('github').configuration;
    beforeEach(async () => {
      oauth = await startOAuthServer({ token: '/login/oauth/access_token', authorize: '/login/oauth/authorize' });
      github = await GitHubProvider.start({ owner: String(doc['github.owner']), repo: String(doc['github.repo']), token: 'not-the-oauth-token' });
      github.now = () => t.clock.now();
      github.acceptsToken = (token) => oauth!.valid.has(token);
    });
    afterEach(async () => {
      // Every request pollgate made with the OAuth token must be valid for GitHub's own description.
      expect(github.invalidRequests.map((r) => `${r.request.method} ${r.request.path}: ${r.errors.join('; ')}`)).to.deep.equal([]);
      await github.close();
    });

    it('authorize at /login/oauth/authorize, exchange with Accept: application/json, polls and hook calls carry the OAuth token', async () => {
      const { url, code } = await authorize(t, 'github', oauth!.url);
      expect(url.pathname).to.equal('/login/oauth/authorize');
      expect(url.searchParams.get('scope')).to.equal('repo admin:repo_hook');
      const id = await createWithOAuth(t, 'github', code, { 'oauth.base.url': oauth!.url, 'base.url': github.url });
      const token = oauth!.calls.at(-1)!.answer.access_token as string;

      t.clock.advance(MINUTE);
      await github.openIssue('first');
      expect((await pollNow(t, id)).issues).to.include({ fetched: 1, created: 1 });
      const polls = github.provider.requests.filter((r) => r.path.endsWith('/issues'));
      expect(polls.map((r) => r.headers.authorization)).to.deep.equal([`Bearer ${token}`]);

      // Webhook mode: the hook is created and deleted with the OAuth token, valid for the description.
      const { code: second } = await authorize(t, 'github', oauth!.url);
      const hooked = await createWithOAuth(t, 'github', second, { 'oauth.base.url': oauth!.url, 'base.url': github.url, 'event.vendor.type': 'webhook' });
      expect(github.hooks.size).to.equal(1);
      expect((await t.api.delete(`instances/${hooked}`)).statusCode).to.equal(200);
      expect(github.hooks.size).to.equal(0);
      const hookCalls = github.provider.requests.filter((r) => r.path.includes('/hooks'));
      expect(hookCalls.map((r) => r.method)).to.deep.equal(['POST', 'DELETE']);
      expect(hookCalls.every((r) => oauth!.valid.has(bearerOf(r.headers.authorization)))).to.equal(true);
      expect(github.operations).to.include.members(['issues/list-for-repo', 'repos/create-webhook', 'repos/delete-webhook']);
    });

    it("GitHub's refusal (HTTP 200 with an error field) is a 400 OAUTH_EXCHANGE_FAILED and creates nothing; no alternative fits → 400", async () => {
      const { code } = await authorize(t, 'github', oauth!.url);
      oauth!.next.push((a) => {
        for (const k of Object.keys(a.body)) delete a.body[k];
        Object.assign(a.body, {
          error: 'bad_verification_code',
          error_description: 'The code passed is incorrect or expired.',
          error_uri: 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code',
        });
      });
      const res = await postOAuthDoc(t, 'github', code, { 'oauth.base.url': oauth!.url, 'base.url': github.url });
      expect(res.statusCode).to.equal(400);
      expect(res.body).to.deep.include({ code: 'OAUTH_EXCHANGE_FAILED' });
      expect(JSON.stringify(res.body)).to.include('bad_verification_code');
      expect(await instanceCount(t)).to.equal(0);
      await expectRefusedWithoutAuth(t, 'github', ['api.key'], /set oauth\.api\.key \(oauth2\) or api\.key \(bearer\)/);
    });
  });

  describe('jira', () => {
    let jira: JiraProvider;
    const cloudId = '11223344-a1b2-3b33-c444-def123456789';
    beforeEach(async () => {
      oauth = await startOAuthServer({ token: '/oauth/token', authorize: '/authorize' });
      const provider = oauth;
      jira = await JiraProvider.start({
        email: 'ada@example.com',
        apiToken: 'basic-token',
        oauth: { cloudId, siteUrl: 'https://acme.atlassian.net', authServer: provider.url, accepts: (token) => provider.valid.has(token) },
      });
      jira.now = () => t.clock.now();
      // The OAuth server is reached through the site's origin: its id tokens name that issuer.
      provider.server.issuer.url = jira.url;
    });
    afterEach(() => jira.close());

    it('3LO: audience and prompt on the authorize URL, the cloudId looked up once, polls at /ex/jira/<cloudId> with the bearer token, across a refresh', async () => {
      const { url, code } = await authorize(t, 'jira', jira.url);
      expect(url.pathname).to.equal('/authorize');
      expect(Object.fromEntries(url.searchParams)).to.include({
        audience: 'api.atlassian.com',
        prompt: 'consent',
        scope: 'read:jira-work manage:jira-webhook offline_access',
        response_type: 'code',
      });
      oauth!.next.push((a) => void (a.body.expires_in = 3600));
      const id = await createWithOAuth(t, 'jira', code, { 'oauth.base.url': jira.url });
      const lookups = () => jira.provider.requests.filter((r) => r.path === '/oauth/token/accessible-resources');
      expect(lookups()).to.have.length(1);
      expect(bearerOf(lookups()[0].headers.authorization)).to.equal(oauth!.calls.at(-1)!.answer.access_token);

      t.clock.advance(MINUTE);
      await jira.createIssue('ACME', 'Login fails');
      expect((await pollNow(t, id)).issues).to.include({ fetched: 1, created: 1 });
      const searches = () => jira.provider.requests.filter((r) => r.path.endsWith('/rest/api/3/search/jql'));
      expect(searches().map((r) => r.path)).to.deep.equal([`/ex/jira/${cloudId}/rest/api/3/search/jql`]);
      expect(oauth!.valid.has(bearerOf(searches()[0].headers.authorization))).to.equal(true);

      // An hour on: refreshed (Atlassian rotates the refresh token); the cloudId is kept, not looked up again.
      t.clock.advance(60 * MINUTE);
      await jira.updateIssue('10001', { summary: 'Login fails on Safari' });
      expect((await pollNow(t, id)).issues).to.include({ updated: 1 });
      expect(oauth!.calls.at(-1)).to.deep.include({ grant: 'refresh_token', status: 200 });
      expect(searches().at(-1)!.path).to.equal(`/ex/jira/${cloudId}/rest/api/3/search/jql`);
      expect(bearerOf(searches().at(-1)!.headers.authorization)).to.equal(oauth!.calls.at(-1)!.answer.access_token);
      expect(lookups()).to.have.length(1);
    });

    it('a grant that does not cover jira.site is refused naming the sites it covers; neither alternative → 400; nothing stored', async () => {
      const { code } = await authorize(t, 'jira', jira.url);
      const res = await postOAuthDoc(t, 'jira', code, { 'oauth.base.url': jira.url, 'jira.site': 'beta' });
      expect(res.statusCode).to.equal(400);
      expect(res.body).to.deep.include({ code: 'OAUTH_EXCHANGE_FAILED' });
      expect((res.body as unknown as { message: string }).message)
        .to.include('https://beta.atlassian.net')
        .and.include('https://acme.atlassian.net');
      expect(await instanceCount(t)).to.equal(0);
      await expectRefusedWithoutAuth(t, 'jira', ['jira.email', 'api.key'], /set oauth\.api\.key \(oauth2\) or jira\.email and api\.key \(basic\)/);
      await expectRefusedWithoutAuth(t, 'jira', ['api.key'], /or api\.key \(basic\)/);
    });
  });

  // Zendesk and Intercom: the doc page's OAuth JSON as written, the provider's token path, the bearer on every poll.
  const simple: Array<{
    key: string;
    endpoints: { token: string; authorize: string };
    start(): Promise<{ provider: EmulatedProvider; baseUrl: string }>;
    dropped: string[];
    names: RegExp;
    /** Checks the code exchange's form fields against the provider's published description. */
    exchangeContract?(fields: Record<string, string>): Promise<void>;
  }> = [
    {
      key: 'zendesk',
      endpoints: { token: '/oauth/tokens', authorize: '/oauth/authorizations/new' },
      start: () => ZendeskEmulator.start(),
      dropped: ['api.key'],
      names: /set oauth\.api\.key \(oauth2\) or api\.key \(basic\)/,
    },
    {
      key: 'intercom',
      endpoints: { token: '/auth/eagle/token', authorize: '/oauth' },
      start: () => IntercomEmulator.start(),
      dropped: ['api.key'],
      names: /set oauth\.api\.key \(oauth2\) or api\.key \(bearer\)/,
    },
    {
      key: 'linear',
      endpoints: { token: '/oauth/token', authorize: '/oauth/authorize' },
      start: () => LinearEmulator.start('lin_api_not_used'),
      dropped: ['api.key'],
      names: /set oauth\.api\.key \(oauth2\) or api\.key \(header\)/,
    },
    {
      key: 'slack',
      endpoints: { token: '/api/oauth.v2.access', authorize: '/oauth/v2/authorize' },
      start: async () => {
        const slack = await SlackEmulator.start('xoxb-not-used');
        slack.openChannel(docOAuthInstanceJson('slack').configuration['slack.channel'] as string);
        return slack;
      },
      dropped: ['api.key'],
      names: /set oauth\.api\.key \(oauth2\) or api\.key \(bearer\)/,
      // Slack's description declares oauth.v2.access with query parameters; https://docs.slack.dev/apis/web-api:
      // "Pass arguments as: GET querystring parameters, POST parameters presented as
      // application/x-www-form-urlencoded, or a mix of both GET and POST parameters". The form
      // pollgate posts is read as those parameters (undeclared ones are refused); one without the
      // code is refused.
      exchangeContract: async (fields) => {
        const api = await openApiFromPackage(join(projectRoot, 'test/providers/slack/openapi-subset.json'));
        const exchange = (query: Record<string, string>) => ({ method: 'GET', path: '/oauth.v2.access', query, headers: {}, body: '', at: 0 });
        expect(validateRequest(api, exchange(fields)).errors).to.deep.equal([]);
        const { code: _code, ...withoutCode } = fields;
        expect(validateRequest(api, exchange(withoutCode)).errors.join()).to.match(/code/);
        expect(validateRequest(api, exchange({ ...fields, scope: 'admin' })).errors.join()).to.match(/additional/);
      },
    },
  ];
  for (const c of simple) {
    it(`${c.key}: the OAuth alternative polls with the bearer token; no alternative fits → 400`, async () => {
      oauth = await startOAuthServer(c.endpoints);
      const emulator = await c.start();
      try {
        emulator.provider.now = () => t.clock.now();
        emulator.provider.requireAuth = { type: 'check', accept: (req) => oauth!.valid.has(bearerOf(req.headers.authorization)) };
        const { url, code } = await authorize(t, c.key, oauth.url);
        expect(url.pathname).to.equal(c.endpoints.authorize);
        const id = await createWithOAuth(t, c.key, code, { 'oauth.base.url': oauth.url, 'base.url': emulator.baseUrl });
        expect(oauth.calls.at(-1)).to.deep.include({ grant: 'authorization_code', status: 200 });
        await c.exchangeContract?.(oauth.calls.at(-1)!.body);
        t.clock.advance(5 * MINUTE);
        const polled = await pollNow(t, id);
        for (const result of Object.values(polled)) expect((result as { error?: string }).error).to.equal(undefined);
        expect(emulator.provider.requests.length).to.be.greaterThan(0);
        expect(emulator.provider.requests.every((r) => bearerOf(r.headers.authorization) === oauth!.calls.at(-1)!.answer.access_token)).to.equal(true);
        await expectRefusedWithoutAuth(t, c.key, c.dropped, c.names);
      } finally {
        await emulator.provider.close();
      }
    });
  }
});
