import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { API_TOKEN, instanceCount, startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { Receiver } from '../providers/receiver.js';
import { dispatcher } from '../delivery/helpers.js';
import { pollNow } from '../poller/helpers.js';
import { bearerOf, startOAuthServer, type OAuthProvider } from '../auth/helpers.js';
import { publicUrlIsGateway, registerConnectors, verifySignature } from '../connect/helpers.js';

/**
 * The hosted connect page and the console's create flow in a real headless Chromium (the system's
 * /usr/bin/chromium through playwright-core): OAuth 2.0 through an independent authorization
 * server (oauth2-mock-server) to the app's success URL, a key-based form with validation errors,
 * each refusal (provider refusal, replayed and foreign state, expired session, success URL not
 * allowed), reconnect after a revoked grant, and the console creating an instance, editing it and
 * drawing its activity chart. With POLLGATE_SCREENSHOTS=<dir> it saves connect-*.png and instance-activity.png there.
 */
const CHROMIUM = process.env.POLLGATE_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe('connect page and console create flow (headless Chromium)', function () {
  this.timeout(120_000);
  let t: TestGateway;
  let oauth: OAuthProvider;
  let provider: EmulatedProvider;
  /** The app: its success and error pages, and its notification callback (POST /cb). */
  let app: Receiver;
  let profile: string;
  let browser: BrowserContext;
  let page: Page;
  // POLLGATE_SCREENSHOTS=docs/console saves the pages (the ones in docs/connect.md come from there).
  const shots = process.env.POLLGATE_SCREENSHOTS ? resolve(process.env.POLLGATE_SCREENSHOTS) : undefined;
  const shot = async (name: string) => {
    if (shots) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  };

  before(async () => {
    oauth = await startOAuthServer();
    provider = await EmulatedProvider.start({
      requireAuth: {
        type: 'check',
        accept: (req) => oauth.valid.has(bearerOf(req.headers.authorization)) || /^Bearer key-\d+$/.test(String(req.headers.authorization)),
      },
    });
    app = await Receiver.start();
    t = await startGateway({ config: { connect: { allowedRedirectOrigins: [app.url] } } });
    publicUrlIsGateway(t);
    provider.now = () => t.clock.now();
    provider.collection('contacts');
    await registerConnectors(t, oauth);
    if (shots) mkdirSync(shots, { recursive: true });
    profile = mkdtempSync(join(tmpdir(), 'pollgate-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1100, height: 800 },
    });
    page = browser.pages()[0] ?? (await browser.newPage());
  });

  after(async () => {
    await browser?.close();
    await t.close();
    await provider.close();
    await oauth.close();
    await app.close();
    rmSync(profile, { recursive: true, force: true });
  });

  const preset = () => ({ 'event.notification.callback.url': `${app.url}/cb`, 'event.vendor.type': 'polling', 'event.poller.refresh_interval': '5' });
  const oauthPreset = () => ({ ...preset(), 'oauth.api.key': 'client-1', 'oauth.api.secret': 'client-secret-1' });

  async function session(body: Record<string, unknown>): Promise<{ id: string; url: string }> {
    const res = await t.api.post('connect/sessions', { json: { successUrl: `${app.url}/connected`, ...body } });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    return res.body as never;
  }

  /** The app's notifications so far, delivered now (their eventTypes). */
  async function appEvents(): Promise<string[]> {
    await dispatcher(t).drain();
    await dispatcher(t).idle();
    return app.received.filter((r) => r.path === '/cb').map((r) => JSON.parse(r.raw.toString('utf8')).events[0].eventType);
  }

  const refusal = async (pattern: RegExp) => {
    await page.locator('[data-outcome=refused]').waitFor();
    expect(await page.locator('main').textContent()).to.match(pattern);
  };

  it('OAuth 2.0: the browser fills the form, grants at the provider, lands on the success URL with a valid signature; the instance polls and CONNECTED arrives', async () => {
    const s = await session({ connector: 'oauthcrm', configuration: oauthPreset(), endUser: 'user-7' });
    const callbacks: string[] = [];
    page.on('request', (r) => void (r.url().includes('/oauth/callback') && callbacks.push(r.url())));
    await page.goto(s.url);
    expect(await page.locator('form[data-form=connect] button').count()).to.equal(1);
    await page.fill('input[name=base_url]', provider.url);
    await shot('connect-oauth');
    await page.click('form[data-form=connect] button');
    await page.waitForURL(`${app.url}/connected?**`);
    const back = new URL(page.url());
    verifySignature(API_TOKEN, back);
    const id = Number(back.searchParams.get('instance_id'));
    t.clock.advance(1000);
    provider.collection('contacts').upsert({ name: 'Ada' });
    t.clock.advance(1000);
    expect((await pollNow(t, id)).contacts).to.include({ fetched: 1, created: 1 });
    expect(oauth.valid.has(bearerOf(provider.requests.at(-1)!.headers.authorization))).to.equal(true);
    expect(await appEvents()).to.deep.equal(['CONNECTED', 'CREATED']);

    // The same provider redirect again (a replay), then a state pollgate never issued.
    await page.goto(callbacks[0]);
    await refusal(/already used/);
    await page.goto(`${t.url}/oauth/callback?state=${'Q'.repeat(43)}&code=stolen`);
    await refusal(/not started here/);
    await shot('connect-refused');
    expect(await instanceCount(t)).to.equal(1);
  });

  it('a key-based connector: validation errors next to their fields, then success', async () => {
    const before = await instanceCount(t);
    const s = await session({ connector: 'keyscrm', configuration: preset(), name: 'Keys CRM' });
    await page.goto(s.url);
    expect(await page.getAttribute('input[name=api_key]', 'type')).to.equal('password');
    await page.fill('input[name=base_url]', 'not a url');
    await page.fill('input[name=api_key]', 'key-123');
    await page.click('form[data-form=connect] button');
    await page.locator('[data-field=base_url] .field-error').waitFor();
    expect(await page.locator('[data-field=base_url] .field-error').textContent()).to.match(/not a valid absolute URL/);
    expect(await page.inputValue('input[name=api_key]')).to.equal('');
    await shot('connect-errors');
    expect(await instanceCount(t)).to.equal(before);
    await page.fill('input[name=base_url]', provider.url);
    await page.fill('input[name=api_key]', 'key-123');
    await page.click('form[data-form=connect] button');
    await page.waitForURL(`${app.url}/connected?**`);
    verifySignature(API_TOKEN, new URL(page.url()));
    expect(await instanceCount(t)).to.equal(before + 1);
  });

  it('a refused authorization, an expired session and a success URL not allowed: refused, nothing created', async () => {
    const before = await instanceCount(t);
    oauth.server.service.once('beforeAuthorizeRedirect', (redirect: { url: URL }) => {
      redirect.url.searchParams.delete('code');
      redirect.url.searchParams.set('error', 'access_denied');
    });
    const refused = await session({ connector: 'oauthcrm', configuration: oauthPreset() });
    await page.goto(refused.url);
    await page.fill('input[name=base_url]', provider.url);
    await page.click('form[data-form=connect] button');
    await refusal(/Nothing was created/);
    expect(await page.locator('[data-error]').textContent()).to.equal('access_denied');

    const expiring = await session({ connector: 'keyscrm', configuration: preset(), expiresInMinutes: 1 });
    t.clock.advance(61_000);
    await page.goto(expiring.url);
    await refusal(/expired/);

    const elsewhere = await t.api.post('connect/sessions', { json: { connector: 'keyscrm', successUrl: 'https://attacker.example/steal' } });
    expect(elsewhere.statusCode).to.equal(400);
    expect(JSON.stringify(elsewhere.body)).to.include('not in connect.allowedRedirectOrigins');
    expect(await instanceCount(t)).to.equal(before);
  });

  it('reconnect: a revoked grant is repaired in the browser; same instance id, new grant, polling again, RECONNECTED delivered', async () => {
    const s = await session({ connector: 'oauthcrm', configuration: oauthPreset() });
    await page.goto(s.url);
    await page.fill('input[name=base_url]', provider.url);
    await page.click('form[data-form=connect] button');
    await page.waitForURL(`${app.url}/connected?**`);
    const id = Number(new URL(page.url()).searchParams.get('instance_id'));
    oauth.valid.clear();
    oauth.next.push((answer) => {
      answer.statusCode = 400;
      answer.body = { error: 'invalid_grant', error_description: 'refresh token revoked' };
    });
    t.clock.advance(120_000);
    expect((await pollNow(t, id)).contacts.error).to.match(/invalid_grant/);
    const grantsBefore = oauth.calls.filter((c) => c.grant === 'authorization_code').length;

    const again = await session({ instance: { id } });
    await page.goto(again.url);
    await page.locator('text=Reconnect').waitFor();
    await page.click('form[data-form=connect] button');
    await page.waitForURL(`${app.url}/connected?**`);
    const back = new URL(page.url());
    verifySignature(API_TOKEN, back);
    expect(Number(back.searchParams.get('instance_id'))).to.equal(id);
    expect(oauth.calls.filter((c) => c.grant === 'authorization_code')).to.have.length(grantsBefore + 1);
    t.clock.advance(1000);
    provider.collection('contacts').upsert({ name: 'Grace' });
    t.clock.advance(1000);
    expect((await pollNow(t, id)).contacts).to.include({ created: 1 });
    expect(await appEvents()).to.include('RECONNECTED');
  });

  it('console: creates an instance from the connector page, edits its interval and a secret, and draws its activity chart', async () => {
    await page.goto(`${t.url}/console`);
    await page.evaluate((token) => sessionStorage.setItem('pollgate.token', token), API_TOKEN);
    await page.goto(`${t.url}/console#/connectors/keyscrm`);
    await page.locator('form[data-form=new-instance]').waitFor();
    await page.fill('form[data-form=new-instance] input[name=name]', 'From the console');
    await page.fill('form[data-form=new-instance] input[name=callback]', `${app.url}/cb`);
    await shot('connect-connector');
    await page.click('form[data-form=new-instance] button');
    await page.locator('form[data-form=connect]').waitFor();
    await page.fill('input[name=base_url]', provider.url);
    await page.fill('input[name=api_key]', 'key-123');
    await page.click('form[data-form=connect] button');
    await page.locator('#notice', { hasText: /Connected: instance \d+/ }).waitFor({ timeout: 10_000 });
    const id = Number(/#\/instances\/(\d+)$/.exec(page.url())![1]);
    const created = (await t.api.get(`instances/${id}`)).body as unknown as { name: string };
    expect(created.name).to.equal('From the console');

    // Secrets are write-only: shown as set, never filled in.
    const secret = page.locator('form[data-form=configuration] input[name=api_key]');
    expect(await secret.inputValue()).to.equal('');
    expect(await secret.getAttribute('placeholder')).to.match(/set \(write-only\)/);
    await secret.fill('key-456');
    await page.click('form[data-form=configuration] button');
    await page.locator('#notice', { hasText: 'Configuration saved: api_key' }).waitFor();
    const rows = await t.gateway.ctx.stores.instances.get(id);
    expect(rows!.configuration.api_key).to.equal('key-456');
    await page.fill('form[data-form=interval] input', '9');
    await page.click('form[data-form=interval] button');
    await page.locator('table[data-table=status] tr[data-id=contacts] td >> nth=1', { hasText: '9m' }).waitFor({ timeout: 10_000 });

    // Activity: an event and its delivery this hour.
    t.clock.advance(1000);
    provider.collection('contacts').upsert({ name: 'Lin' });
    t.clock.advance(1000);
    await pollNow(t, id);
    await appEvents();
    const bar = page.locator('svg[data-chart=activity] g[data-hour] >> nth=-1');
    await page.locator('svg[data-chart=activity] rect[data-series=deliveries][data-value="2"]').waitFor({ timeout: 10_000 });
    expect(await bar.locator('rect[data-series=events]').getAttribute('data-value')).to.equal('1');
    await shot('instance-activity');
  });
});
