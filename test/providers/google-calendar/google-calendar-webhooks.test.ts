import { expect } from 'chai';
import got from 'got';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { startOAuthServer, type OAuthProvider } from '../../auth/helpers.js';
import { listEvents } from '../../poller/helpers.js';
import { docInstanceJsons } from '../catalog.js';
import { DEFAULT_CHANNEL_LIFE_MS, GoogleCalendarProvider } from './emulator.js';

/**
 * Webhook mode: a watch channel opened at create, thin notifications (their channel token checked)
 * that sync the calendar now, and the channel re-opened halfway to its expiry with the old one
 * stopped — by the webhook refresh loop, on the manual clock.
 */
const CALENDAR = 'primary';

describe('google-calendar connector, webhook mode: watch channels and thin notifications', () => {
  let t: TestGateway;
  let oauth: OAuthProvider;
  let google: GoogleCalendarProvider;

  beforeEach(async () => {
    t = await startGateway();
    oauth = await startOAuthServer({ token: '/token', authorize: '/o/oauth2/v2/auth' });
    google = await GoogleCalendarProvider.start({ calendars: [CALENDAR], accepts: (token) => oauth.valid.has(token) });
    google.now = () => t.clock.now();
    google.rewriteAddress = (address) => address.replace('http://127.0.0.1:1', t.url);
  });

  afterEach(async () => {
    expect(google.invalidRequests.map((r) => [r.request.method, r.request.path, r.errors])).to.deep.equal([]);
    await t.close();
    await google.close();
    await oauth.close();
  });

  /** The doc page's webhook-mode instance JSON, with a code from the authorize step. */
  async function createInstance(): Promise<{ id: number; webhookUrl: string; configuration: Record<string, unknown> }> {
    const json = docInstanceJsons('google-calendar').find((j) => j.configuration['event.vendor.type'] === 'webhook')!;
    const doc = json.configuration;
    const query = new URLSearchParams({
      apiKey: String(doc['oauth.api.key']),
      apiSecret: String(doc['oauth.api.secret']),
      callbackUrl: String(doc['oauth.callback.url']),
      state: 's',
      'oauth.base.url': oauth.url,
    });
    const { oauthUrl } = (await t.api.get(`elements/google-calendar/oauth/url?${query}`)).body as unknown as { oauthUrl: string };
    const redirect = await got(oauthUrl, { followRedirect: false, throwHttpErrors: false, retry: { limit: 0 } });
    const code = new URL(redirect.headers.location!).searchParams.get('code')!;
    const res = await t.api.post('instances', {
      json: { ...json, providerData: { code }, configuration: { ...doc, 'oauth.base.url': oauth.url, 'base.url': `${google.url}/calendar/v3` } },
    });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    const body = res.body as unknown as { id: number; webhookUrl: string; configuration: Record<string, unknown> };
    return { ...body, webhookUrl: body.webhookUrl.replace('http://127.0.0.1:1', t.url) };
  }

  const watches = () => google.provider.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/events/watch'));
  const stops = () => google.provider.requests.filter((r) => r.method === 'POST' && r.path === '/calendar/v3/channels/stop');
  const syncs = () => google.provider.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/events') && r.query.pageToken === undefined);
  const statusOf = async (id: number) =>
    ((await t.api.get(`instances/${id}/status`)).body as unknown as { webhooks?: Record<string, Record<string, unknown>> }).webhooks;
  /** Waits until the emulator has sent `n` notifications (they go out after its answers). */
  async function notified(n: number): Promise<void> {
    for (let i = 0; i < 200 && google.notifications.length < n; i++) await new Promise((r) => setTimeout(r, 5));
    expect(google.notifications.length).to.be.at.least(n);
  }
  async function runPoller(): Promise<number> {
    const claimed = await t.gateway.poller.tick();
    await t.gateway.poller.idle();
    return claimed;
  }

  it('opens a channel with the generated token; each notification syncs now by token; a wrong token is refused', async () => {
    await google.createEvent(CALENDAR, 'before the instance');
    t.clock.advance(60_000);
    const { id, webhookUrl } = await createInstance();
    const [watch] = watches();
    const body = JSON.parse(watch.body) as Record<string, string>;
    expect(body).to.have.keys('id', 'type', 'address', 'token');
    expect(body.id).to.match(/^pollgate-[0-9a-f-]{36}$/);
    expect(body).to.include({ type: 'web_hook', address: webhookUrl.replace(t.url, 'http://127.0.0.1:1') });
    expect(body.token).to.be.a('string').with.length.greaterThan(20);
    const [channel] = google.liveChannels();
    expect((await statusOf(id))!.channel).to.include({
      webhookId: `${channel.id} ${channel.resourceId}`,
      expiresAt: new Date(channel.expiration).toISOString(),
    });

    // The "sync" message of the new channel makes the first (baseline) sync due now.
    await notified(1);
    expect(google.notifications[0]).to.deep.equal({ channelId: channel.id, state: 'sync', status: 202 });
    expect(await runPoller()).to.equal(1);
    expect(syncs()).to.have.length(1);
    expect(await listEvents(t, id)).to.deep.equal([]);

    // A change: Google notifies (thin), the object is due now, the sync sends the stored token.
    t.clock.advance(1000);
    const created = await google.createEvent(CALENDAR, 'after');
    await notified(2);
    expect(google.notifications[1]).to.include({ state: 'exists', status: 202 });
    expect(await runPoller()).to.equal(1);
    expect(syncs().at(-1)!.query).to.have.property('syncToken');
    expect((await listEvents(t, id)).map((e) => `${e.eventType} ${e.objectId}`)).to.deep.equal([`CREATED ${created.id}`]);

    // Nothing due without a notification; a notification with another token is refused and polls nothing.
    expect(await runPoller()).to.equal(0);
    const forged = await got.post(webhookUrl, {
      headers: { 'X-Goog-Channel-ID': channel.id, 'X-Goog-Channel-Token': 'guessed', 'X-Goog-Resource-State': 'exists', 'X-Goog-Message-Number': '9' },
      throwHttpErrors: false,
      retry: { limit: 0 },
    });
    expect(forged.statusCode).to.equal(401);
    expect(await runPoller()).to.equal(0);
  });

  it('re-opens the channel halfway to its expiry and stops the old one with its id and resource id', async () => {
    const { id } = await createInstance();
    await notified(1);
    const [first] = google.liveChannels();
    expect(first.expiration).to.equal(t.clock.now() + DEFAULT_CHANNEL_LIFE_MS);
    const tick = () => t.gateway.webhooks.refresher.tick();

    t.clock.advance(DEFAULT_CHANNEL_LIFE_MS / 2 - 60_000);
    expect(await tick()).to.equal(0);
    t.clock.advance(60_000);
    expect(await tick()).to.equal(1);
    expect(watches()).to.have.length(2);
    const second = google.liveChannels().find((c) => c.id !== first.id)!;
    expect(second.id).to.not.equal(first.id);
    expect(JSON.parse(stops()[0].body)).to.deep.equal({ id: first.id, resourceId: first.resourceId });
    expect(first.stopped).to.equal(true);
    expect(google.liveChannels().map((c) => c.id)).to.deep.equal([second.id]);
    expect((await statusOf(id))!.channel).to.include({
      webhookId: `${second.id} ${second.resourceId}`,
      expiresAt: new Date(second.expiration).toISOString(),
      failedAttempts: 0,
    });

    // Notifications of the new channel carry the same token: accepted.
    await notified(2);
    expect(google.notifications.at(-1)).to.include({ channelId: second.id, status: 202 });

    // A renewal that fails is retried; past the expiry the channel is opened anew all the same.
    google.provider.failNext(3, { status: 503, body: {} }, { path: '/calendar/v3/calendars' });
    t.clock.advance(DEFAULT_CHANNEL_LIFE_MS / 2);
    expect(await tick()).to.equal(1);
    expect((await statusOf(id))!.channel).to.include({ failedAttempts: 1 });
    t.clock.advance(DEFAULT_CHANNEL_LIFE_MS);
    expect(await tick()).to.equal(1);
    const third = google.liveChannels().find((c) => c.id !== second.id)!;
    expect((await statusOf(id))!.channel).to.include({ webhookId: `${third.id} ${third.resourceId}`, failedAttempts: 0 });
  });

  it('removes the channel when the instance is deleted', async () => {
    const { id } = await createInstance();
    const [channel] = google.liveChannels();
    expect((await t.api.delete(`instances/${id}`)).statusCode).to.equal(200);
    expect(JSON.parse(stops()[0].body)).to.deep.equal({ id: channel.id, resourceId: channel.resourceId });
    expect(google.liveChannels()).to.deep.equal([]);
  });
});
