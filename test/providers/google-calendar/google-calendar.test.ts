import { expect } from 'chai';
import got from 'got';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { startOAuthServer, type OAuthProvider } from '../../auth/helpers.js';
import { listEvents, pollNow } from '../../poller/helpers.js';
import { docOAuthInstanceJson } from '../catalog.js';
import { GoogleCalendarProvider } from './emulator.js';
import { DiscoveryValidator } from './discovery-validator.js';

/**
 * The google-calendar connector against the emulated Calendar API v3 (emulator.ts): OAuth 2.0 with
 * Google's parameters, a full sync as baseline, incremental syncs by syncToken, cancelled events
 * as DELETED, and a 410 answered by a full resync that raises only what changed.
 */
const CALENDAR = 'team@example.com';

describe('google-calendar connector against the emulated Calendar API', () => {
  let t: TestGateway;
  let oauth: OAuthProvider;
  let google: GoogleCalendarProvider;

  beforeEach(async () => {
    t = await startGateway();
    oauth = await startOAuthServer({ token: '/token', authorize: '/o/oauth2/v2/auth' });
    google = await GoogleCalendarProvider.start({ calendars: [CALENDAR, 'primary'], accepts: (token) => oauth.valid.has(token) });
    google.now = () => t.clock.now();
  });

  afterEach(async () => {
    // Every request the connector sent is one Google's discovery document accepts.
    expect(google.invalidRequests.map((r) => [r.request.method, r.request.path, r.errors])).to.deep.equal([]);
    await t.close();
    await google.close();
    await oauth.close();
  });

  /** The doc page's instance JSON, with a code from the authorize step; `configuration` added. */
  async function createInstance(configuration: Record<string, unknown> = {}): Promise<{ id: number; oauthUrl: URL }> {
    const json = docOAuthInstanceJson('google-calendar');
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
      json: {
        ...json,
        providerData: { code },
        configuration: { ...doc, 'oauth.base.url': oauth.url, 'base.url': `${google.url}/calendar/v3`, ...configuration },
      },
    });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    return { id: (res.body as unknown as { id: number }).id, oauthUrl: new URL(oauthUrl) };
  }

  const lists = () => google.provider.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/events'));
  const firstPages = () => lists().filter((r) => r.query.pageToken === undefined);

  it("asks Google's authorize endpoint for offline access with consent, and exchanges the code at the token endpoint", async () => {
    const { oauthUrl } = await createInstance({ 'google.calendar.id': CALENDAR });
    expect(oauthUrl.pathname).to.equal('/o/oauth2/v2/auth');
    expect(Object.fromEntries(oauthUrl.searchParams)).to.include({
      access_type: 'offline',
      prompt: 'consent',
      response_type: 'code',
      scope: 'https://www.googleapis.com/auth/calendar.events.readonly',
      client_id: '1234567890-abc.apps.googleusercontent.com',
    });
    expect(oauth.calls.map((c) => c.grant)).to.deep.equal(['authorization_code']);
  });

  it('a baseline full sync in pages of 2500, then incremental syncs by syncToken: created, updated, cancelled as DELETED', async () => {
    for (let i = 1; i <= 2600; i++) await google.createEvent(CALENDAR, `meeting ${i}`);
    t.clock.advance(60_000);
    const { id } = await createInstance({ 'google.calendar.id': CALENDAR });
    t.clock.advance(60_000);
    expect((await pollNow(t, id)).events).to.include({ fetched: 2600, created: 0, updated: 0, deleted: 0 });
    const [page1, page2] = lists();
    expect(page1.path).to.equal(`/calendar/v3/calendars/${encodeURIComponent(CALENDAR)}/events`);
    expect(page1.query).to.deep.equal({ maxResults: '2500' });
    expect(page2.query).to.have.keys('maxResults', 'pageToken');
    expect(page1.headers.authorization).to.match(/^Bearer /);

    t.clock.advance(60_000);
    const created = await google.createEvent(CALENDAR, 'new one');
    await google.updateEvent(CALENDAR, 'evt7', 'moved');
    await google.deleteEvent(CALENDAR, 'evt9');
    expect((await pollNow(t, id)).events).to.include({ fetched: 3, created: 1, updated: 1, deleted: 1 });
    const incremental = firstPages()[1];
    expect(Object.keys(incremental.query).sort()).to.deep.equal(['maxResults', 'syncToken']);
    const events = await listEvents(t, id);
    expect(events.map((e) => `${e.eventType} ${e.objectId}`).sort()).to.deep.equal([`CREATED ${created.id}`, 'DELETED evt9', 'UPDATED evt7']);
    expect(events.find((e) => e.eventType === 'DELETED')!.raw).to.include({ id: 'evt9', status: 'cancelled' });
    expect((await pollNow(t, id)).events).to.include({ fetched: 0, created: 0 });
  });

  it('a full resync after a 410 raises events only for what changed', async () => {
    const { id } = await createInstance({ 'google.calendar.id': CALENDAR });
    t.clock.advance(60_000);
    for (let i = 1; i <= 30; i++) await google.createEvent(CALENDAR, `meeting ${i}`);
    expect((await pollNow(t, id)).events).to.include({ fetched: 30, created: 30 });
    t.clock.advance(60_000);
    await google.updateEvent(CALENDAR, 'evt3', 'renamed');
    await google.deleteEvent(CALENDAR, 'evt4');
    const added = await google.createEvent(CALENDAR, 'added in the gap');
    google.expireSyncTokens();
    const before = (await listEvents(t, id)).length;
    const summary = (await pollNow(t, id)).events;
    expect(summary).to.include({ created: 1, updated: 1, deleted: 1, fetched: 30 });
    const sent = firstPages().slice(-2);
    expect(sent[0].query).to.have.property('syncToken');
    expect(sent[1].query).to.deep.equal({ maxResults: '2500' });
    const events = await listEvents(t, id);
    expect(events.length - before).to.equal(3);
    expect(
      events
        .slice(0, 3)
        .map((e) => `${e.eventType} ${e.objectId}`)
        .sort(),
    ).to.deep.equal([`CREATED ${added.id}`, 'DELETED evt4', 'UPDATED evt3']);
    // Incremental again with the fresh token.
    await google.updateEvent(CALENDAR, 'evt5', 'renamed');
    expect((await pollNow(t, id)).events).to.include({ fetched: 1, updated: 1 });
    expect(firstPages().at(-1)!.query).to.have.property('syncToken');
  });

  it('a stored token is only sent for the listing it was made for: another calendar starts with a full sync', async () => {
    const { id } = await createInstance({ 'google.calendar.id': CALENDAR });
    t.clock.advance(60_000);
    await google.createEvent(CALENDAR, 'on the team calendar');
    await pollNow(t, id);
    await pollNow(t, id);
    expect(firstPages().at(-1)!.query).to.have.property('syncToken');
    const patched = await t.api.patch(`instances/${id}`, { json: { configuration: { 'google.calendar.id': 'primary' } } });
    expect(patched.statusCode, JSON.stringify(patched.body)).to.equal(200);
    await google.createEvent('primary', 'on the primary calendar');
    await pollNow(t, id);
    const last = firstPages().at(-1)!;
    expect(last.path).to.equal('/calendar/v3/calendars/primary/events');
    expect(last.query).to.deep.equal({ maxResults: '2500' });
    await pollNow(t, id);
    expect(firstPages().at(-1)!.query).to.have.property('syncToken');
  });

  it('the discovery document refuses a broken request: an orderBy outside its enum, an unknown parameter, a body field Channel lacks', async () => {
    const validator = DiscoveryValidator.load();
    const path = `/calendar/v3/calendars/${encodeURIComponent(CALENDAR)}/events`;
    expect(validator.validate({ method: 'GET', path, query: { maxResults: '2500' }, body: '' }).errors).to.deep.equal([]);
    expect(validator.validate({ method: 'GET', path, query: { orderBy: 'created', maxResults: '0', since: 'x' }, body: '' }).errors).to.deep.equal([
      'orderBy must be one of startTime, updated, not "created"',
      'maxResults must be at least 1',
      'query parameter since is not a parameter of calendar.events.list',
    ]);
    expect(
      validator.validate({
        method: 'POST',
        path: `${path}/watch`,
        query: {},
        body: JSON.stringify({ id: 'c1', type: 'web_hook', address: 'https://x', ttl: 5 }),
      }).errors,
    ).to.deep.equal(['body field ttl is not a property of Channel']);
    // The emulator answers such a request 400 (and records it: cleared here, it is this test's own).
    const res = await got(`${google.url}${path}?orderBy=created`, { throwHttpErrors: false, retry: { limit: 0 } });
    expect(res.statusCode).to.equal(400);
    expect(google.invalidRequests).to.have.length(1);
    google.invalidRequests.length = 0;
    // syncToken with timeMin: refused by the emulator's rule (the parameters that cannot be combined).
    const { id } = await createInstance({ 'google.calendar.id': CALENDAR });
    await pollNow(t, id);
    const bearer = String(lists().at(-1)!.headers.authorization);
    expect(bearer).to.match(/^Bearer ./);
    const withToken = await got(`${google.url}${path}?syncToken=${Buffer.from(`{"seq":0,"epoch":0}`).toString('base64url')}&timeMin=2026-01-01T00:00:00Z`, {
      headers: { authorization: bearer },
      throwHttpErrors: false,
      retry: { limit: 0 },
    });
    expect(withToken.statusCode).to.equal(400);
    expect(withToken.body).to.include('timeMin may not be combined with syncToken');
  });
});
