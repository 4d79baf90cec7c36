import { expect } from 'chai';
import got from 'got';
import { SignJWT } from 'jose';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { startOAuthServer, type OAuthProvider } from '../../auth/helpers.js';
import { docOAuthInstanceJson } from '../catalog.js';
import { DYNAMIC_WEBHOOK_LIFE_MS, JiraProvider } from './jira.js';

/**
 * Webhook mode with OAuth 2.0 (3LO): the app's own ("dynamic") webhook instead of the admin one,
 * kept alive by the refresh loop before its 30 days lapse, registered anew when it lapsed anyway.
 */
const DAY = 86_400_000;
const CLOUD_ID = '11223344-a1b2-3b33-c444-def123456789';
const CLIENT_SECRET = String(docOAuthInstanceJson('jira').configuration['oauth.api.secret']);

describe('jira connector, OAuth 2.0 webhook mode: the app webhook, refreshed before it lapses', () => {
  let t: TestGateway;
  let oauth: OAuthProvider;
  let jira: JiraProvider;

  beforeEach(async () => {
    t = await startGateway();
    oauth = await startOAuthServer({ token: '/oauth/token', authorize: '/authorize' });
    jira = await JiraProvider.start({
      email: 'ada@example.com',
      apiToken: 'basic-token',
      oauth: {
        cloudId: CLOUD_ID,
        siteUrl: 'https://acme.atlassian.net',
        authServer: oauth.url,
        accepts: (token) => oauth.valid.has(token),
        clientSecret: CLIENT_SECRET,
      },
    });
    jira.now = () => t.clock.now();
    oauth.server.issuer.url = jira.url;
  });

  afterEach(async () => {
    // Every request the connector sent is one Atlassian's description accepts.
    expect(jira.invalidRequests.map((r) => [r.request.method, r.request.path, r.errors])).to.deep.equal([]);
    await t.close();
    await jira.close();
    await oauth.close();
  });

  /** The doc page's OAuth instance JSON in webhook mode, with a code from the authorize step. */
  async function createInstance(): Promise<{ id: number; webhookId: string }> {
    const json = docOAuthInstanceJson('jira');
    const doc = json.configuration;
    const query = new URLSearchParams({
      apiKey: String(doc['oauth.api.key']),
      apiSecret: String(doc['oauth.api.secret']),
      callbackUrl: String(doc['oauth.callback.url']),
      state: 's',
      'oauth.base.url': jira.url,
    });
    const url = (await t.api.get(`elements/jira/oauth/url?${query}`)).body as unknown as { oauthUrl: string };
    const redirect = await got(url.oauthUrl, { followRedirect: false, throwHttpErrors: false, retry: { limit: 0 } });
    const code = new URL(redirect.headers.location!).searchParams.get('code')!;
    const configuration = { ...doc, 'oauth.base.url': jira.url, 'event.vendor.type': 'webhook', 'jira.webhook.jql': 'project = ACME' };
    const res = await t.api.post('instances', { json: { ...json, providerData: { code }, configuration } });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    return res.body as unknown as { id: number; webhookId: string };
  }

  const apiCalls = (method: string, path: string) => jira.provider.requests.filter((r) => r.method === method && r.path === `/ex/jira/${CLOUD_ID}${path}`);
  const statusOf = async (id: number) =>
    ((await t.api.get(`instances/${id}/status`)).body as unknown as { webhooks?: Record<string, Record<string, unknown>> }).webhooks;
  const tick = () => t.gateway.webhooks.refresher.tick();

  it('registers through POST /rest/api/3/webhook (not the admin endpoint), refreshes halfway to the expiry, shows expiresAt in the status, removes it on delete', async () => {
    const created = await createInstance();
    expect(jira.webhooks.size).to.equal(0);
    const [hook] = [...jira.dynamicWebhooks.values()];
    expect(created.webhookId).to.equal(String(hook.id));
    expect(JSON.parse(apiCalls('POST', '/rest/api/3/webhook')[0].body)).to.deep.equal({
      url: hook.url,
      webhooks: [{ events: ['jira:issue_created', 'jira:issue_updated', 'jira:issue_deleted'], jqlFilter: 'project = ACME' }],
    });
    const registeredAt = t.clock.now();
    expect(await statusOf(created.id)).to.deep.include({
      dynamic: {
        webhookId: String(hook.id),
        expiresAt: new Date(registeredAt + DYNAMIC_WEBHOOK_LIFE_MS).toISOString(),
        nextRefreshAt: new Date(registeredAt + DYNAMIC_WEBHOOK_LIFE_MS / 2).toISOString(),
        lastRefreshDate: null,
        failedAttempts: 0,
        lastError: null,
      },
    });

    // The instance check finds it among the app's webhooks (GET /rest/api/3/webhook).
    const webhookLine = async () => {
      const report = (await t.api.post(`instances/${created.id}/check`)).body as unknown as { checks: Array<{ name: string; status: string; detail: string }> };
      return report.checks.find((c) => c.name === 'webhook');
    };
    expect(await webhookLine()).to.deep.include({ status: 'ok', detail: `registration ${hook.id}: present at the provider` });

    t.clock.advance(14 * DAY);
    expect(await tick()).to.equal(0);
    expect(apiCalls('PUT', '/rest/api/3/webhook/refresh')).to.have.length(0);

    t.clock.advance(2 * DAY);
    expect(await tick()).to.equal(1);
    const [refresh] = apiCalls('PUT', '/rest/api/3/webhook/refresh');
    expect(JSON.parse(refresh.body)).to.deep.equal({ webhookIds: [hook.id] });
    expect(hook.expiresAt).to.equal(t.clock.now() + DYNAMIC_WEBHOOK_LIFE_MS);
    expect((await statusOf(created.id))!.dynamic).to.include({
      expiresAt: new Date(hook.expiresAt).toISOString(),
      lastRefreshDate: new Date(t.clock.now()).toISOString(),
    });

    // Past the first 30 days: refreshed again in time, so the webhook never lapsed.
    t.clock.advance(16 * DAY);
    await tick();
    expect(apiCalls('PUT', '/rest/api/3/webhook/refresh')).to.have.length(2);
    expect(hook.expiresAt).to.be.greaterThan(t.clock.now() + 29 * DAY);

    expect((await t.api.delete(`instances/${created.id}`)).statusCode).to.equal(200);
    expect(JSON.parse(apiCalls('DELETE', '/rest/api/3/webhook')[0].body)).to.deep.equal({ webhookIds: [hook.id] });
    expect(jira.dynamicWebhooks.size).to.equal(0);
    expect(await statusOf(created.id).catch(() => undefined)).to.equal(undefined);
  });

  it('a failed refresh is retried with backoff; a webhook that lapsed meanwhile is registered anew and the old one removed', async () => {
    const created = await createInstance();
    const first = Number(created.webhookId);
    t.clock.advance(16 * DAY);
    const down = { status: 503, body: { errorMessages: ['Service unavailable'] } };
    jira.provider.failNext(3, down, { path: `/ex/jira/${CLOUD_ID}/rest/api/3/webhook/refresh` });
    await tick();
    const failed = (await statusOf(created.id))!.dynamic;
    expect(failed).to.include({ failedAttempts: 1, nextRefreshAt: new Date(t.clock.now() + 60_000).toISOString() });
    expect(String(failed.lastError)).to.match(/503/);

    t.clock.advance(60_000);
    await tick();
    expect((await statusOf(created.id))!.dynamic).to.include({ failedAttempts: 0, lastError: null });
    expect(jira.dynamicWebhooks.get(first)!.expiresAt).to.equal(t.clock.now() + DYNAMIC_WEBHOOK_LIFE_MS);

    // The gateway was away for longer than the webhook lives: it lapsed, so it is registered anew.
    t.clock.advance(45 * DAY);
    expect(jira.dynamicWebhooks.get(first)!.expiresAt).to.be.lessThan(t.clock.now());
    const report = (await t.api.post(`instances/${created.id}/check`)).body as unknown as { checks: Array<{ name: string; status: string; detail: string }> };
    expect(report.checks.find((c) => c.name === 'webhook')).to.deep.include({
      status: 'failed',
      detail: `registration ${first}: gone: the provider's listing no longer holds it`,
    });
    await tick();
    const renewed = [...jira.dynamicWebhooks.values()].filter((h) => h.id !== first);
    expect(renewed).to.have.length(1);
    expect(renewed[0].expiresAt).to.equal(t.clock.now() + DYNAMIC_WEBHOOK_LIFE_MS);
    expect(jira.dynamicWebhooks.has(first)).to.equal(false);
    expect(JSON.parse(apiCalls('DELETE', '/rest/api/3/webhook')[0].body)).to.deep.equal({ webhookIds: [first] });
    const shown = (await t.api.get(`instances/${created.id}`)).body as unknown as { webhookId: string };
    expect(shown.webhookId).to.equal(String(renewed[0].id));
    expect((await statusOf(created.id))!.dynamic).to.include({ webhookId: String(renewed[0].id), failedAttempts: 0 });
  });

  it("deliveries of the app's webhook are checked by their JWT (HS256, the app's client secret): mapped when it verifies, 401 when forged or expired", async () => {
    const created = await createInstance();
    const [hook] = [...jira.dynamicWebhooks.values()];
    hook.url = hook.url.replace('http://127.0.0.1:1', t.url);
    const issue = await jira.createIssue('ACME', 'Login fails');
    await jira.updateIssue(issue.id, { summary: 'Login fails on Safari' });
    expect(jira.deliveries.map((d) => d.status)).to.deep.equal([202, 202]);
    expect(jira.deliveries[0].headers).to.not.have.property('x-hub-signature');

    const [first] = jira.deliveries;
    const post = (authorization: string) =>
      got.post(hook.url, { body: first.body, headers: { ...first.headers, authorization, 'x-atlassian-webhook-identifier': 'other' }, throwHttpErrors: false });
    const now = Math.floor(t.clock.now() / 1000);
    const sign = (secret: string, exp: number) =>
      new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(now).setExpirationTime(exp).sign(new TextEncoder().encode(secret));
    expect((await post(`Bearer ${await sign('not-the-client-secret', now + 60)}`)).statusCode).to.equal(401);
    expect((await post(`Bearer ${await sign(CLIENT_SECRET, now - 60)}`)).statusCode).to.equal(401);
    expect((await post('')).statusCode).to.equal(401);

    await t.gateway.webhooks.processor.tick();
    const events = ((await t.api.get(`instances/${created.id}/events`)).body as unknown as Array<{ eventType: string; objectId: string }>).map((e) => [
      e.eventType,
      e.objectId,
    ]);
    expect(events).to.have.deep.members([
      ['CREATED', issue.id],
      ['UPDATED', issue.id],
    ]);
  });
});
