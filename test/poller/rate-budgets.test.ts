import { expect } from 'chai';
import { ManualClock } from '../../src/clock.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { listRecords } from '../../sandbox/listing.js';
import { CONTACTS_SINCE, PROVIDER_DATES, providerConnector, registerConnector } from './helpers.js';

/**
 * Provider rate budgets (docs/auth.md "Rate budgets"), on one gateway whose waits pass on its
 * manual clock: every attempt of every provider call draws from the budget of its scope, a 429 or
 * `remaining: 0` pauses the whole scope, and a poll that waits for budget is delayed, not failed.
 * The cross-node test is test/cluster/rate-budgets.test.ts.
 */
type Status = {
  rateLimit?: { scope: string; requests: number | null; perSeconds: number | null; waitingUntil: string | null; reason: string | null };
  objects: Record<string, { lastError: string | null; consecutiveFailures: number; nextPollDate: string; lastSuccessDate: string | null }>;
};
type PollAnswer = Record<string, { fetched: number; created: number; error?: string; delayedUntil?: string; reason?: string }>;

describe('provider rate budgets', () => {
  let t: TestGateway;
  let provider: EmulatedProvider;
  const sleeps: number[] = [];

  /** 2 requests per 10 s and no margin: one request every 5 s, no burst. */
  const metered = (key: string, rateLimit: Record<string, unknown> = { requests: 2, perSeconds: 10, scope: '<%= iparam.domain %>' }) =>
    providerConnector(key, {
      configuration: [{ key: 'base_url', required: true }, { key: 'api_key', required: true, secret: true }, { key: 'domain' }],
      rateLimit,
      rateLimitHeaders: { remaining: 'X-RateLimit-Remaining', reset: 'X-RateLimit-Reset', resetIn: 'epoch-seconds' },
      requests: {
        ping: { schema: { method: 'GET', path: '/ping' } },
        createWebhook: { schema: { method: 'POST', path: '/webhooks', body: { url: '<%= context.targetUrl %>' } } },
        deleteWebhook: { schema: { method: 'DELETE', path: '/webhooks/<%= context.webhookId %>' } },
      },
      events: {
        supported: ['polling', 'webhook'],
        poller: { contacts: { url: CONTACTS_SINCE, idField: 'id', datesConfiguration: PROVIDER_DATES } },
        webhook: {
          register: 'createWebhook',
          deregister: 'deleteWebhook',
          webhookIdPath: '$.id',
          events: { objectType: '=contacts', objectId: '$.id', eventType: '=UPDATED' },
        },
      },
    } as never);

  const create = async (key: string, domain: string, extra: Record<string, unknown> = {}) => {
    const res = await t.api.post('instances', {
      json: {
        element: { key },
        configuration: {
          base_url: provider.url,
          api_key: 'k-secret-1',
          domain,
          'event.vendor.type': 'polling',
          'event.poller.refresh_interval': '60',
          ...extra,
        },
      },
    });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    return (res.body as unknown as { id: number }).id;
  };
  const poll = async (id: number) => {
    const res = await t.api.post(`instances/${id}/events/poll`);
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(200);
    return (res.body as unknown as { objects: PollAnswer }).objects;
  };
  const status = async (id: number) => (await t.api.get(`instances/${id}/status`)).body as unknown as Status;
  const listings = () => provider.requests.filter((r) => r.path === '/contacts');
  const iso = (ms: number) => new Date(ms).toISOString();

  beforeEach(async () => {
    sleeps.length = 0;
    const clock = new ManualClock();
    t = await startGateway({
      clock,
      config: { provider: { maxRetryAfterSeconds: 30, rateBudgetMarginSeconds: 0 } },
      options: { sleep: async (ms: number) => void (sleeps.push(ms), clock.advance(ms)) },
    });
    provider = await EmulatedProvider.start();
    provider.now = () => t.clock.now();
    provider.route('GET', '/ping', () => ({ status: 200, body: { ok: true } }));
    provider.route('POST', '/webhooks', () => ({ status: 201, body: { id: 'wh-1' } }));
    provider.route('DELETE', '/webhooks/:id', () => ({ status: 204 }));
    await registerConnector(t, metered('metered'));
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
  });

  it('draws one request per attempt: registration, every page, every retry, templates, deregistration', async () => {
    const hooked = await create('metered', 'acme', { 'event.vendor.type': 'webhook' });
    const polled = await create('metered', 'acme');
    t.clock.advance(60_000);
    for (let i = 0; i < 250; i++) provider.collection('contacts').upsert({ name: `c${i}` });
    provider.failNext(1, { status: 500, body: { error: 'hiccup' } }, { path: '/contacts' });

    const answer = await poll(polled);
    expect(answer.contacts).to.include({ fetched: 250, created: 250 });
    expect(answer.contacts.error).to.equal(undefined);
    expect((await t.api.post(`instances/${polled}/requests/ping`, { json: { context: {} } })).statusCode).to.equal(200);
    expect((await t.api.delete(`instances/${hooked}`)).statusCode).to.equal(200);

    // register, page 1 (500), page 1 again, pages 2 and 3, the template, deregister: 7 requests of
    // one scope, each its own turn of the budget, 5 s apart.
    const times = provider.requests.map((r) => r.at);
    expect(provider.requests.map((r) => `${r.method} ${r.path}`)).to.deep.equal([
      'POST /webhooks',
      'GET /contacts',
      'GET /contacts',
      'GET /contacts',
      'GET /contacts',
      'GET /ping',
      'DELETE /webhooks/wh-1',
    ]);
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1], `request ${i}`).to.be.at.least(5000);
    expect(times.at(-1)! - times[0]).to.be.below(6 * 5000 + 60_000 + 1000);
  });

  it('a 429 with Retry-After pauses the whole scope: its other instances wait, other scopes go on', async () => {
    const a = await create('metered', 'acme');
    const b = await create('metered', 'acme');
    const other = await create('metered', 'globex');
    t.clock.advance(60_000);
    provider.collection('contacts').upsert({ name: 'Ada' });
    provider.failNext(1, { status: 429, headers: { 'retry-after': '120' }, body: { error: 'slow down' } }, { path: '/contacts' });
    const pausedAt = t.clock.now();

    // Longer than a call may wait (30 s): the poll is rescheduled to the end of the pause, not failed.
    const first = await poll(a);
    expect(first.contacts).to.include({ fetched: 0, delayedUntil: iso(pausedAt + 120_000), reason: '429 Retry-After' });
    expect(first.contacts.error).to.equal(undefined);
    const sa = await status(a);
    expect(sa.rateLimit).to.deep.equal({ scope: 'acme', requests: 2, perSeconds: 10, waitingUntil: iso(pausedAt + 120_000), reason: '429 Retry-After' });
    expect(sa.objects.contacts).to.include({ lastError: null, consecutiveFailures: 0, nextPollDate: iso(pausedAt + 120_000) });

    // The other instance of the scope sends nothing while the scope is paused.
    const before = provider.requests.length;
    expect((await poll(b)).contacts).to.include({ fetched: 0, delayedUntil: iso(pausedAt + 120_000), reason: '429 Retry-After' });
    expect((await t.api.post(`instances/${b}/requests/ping`, { json: { context: {} } })).statusCode).to.equal(429);
    expect(provider.requests.length).to.equal(before);
    expect((await status(b)).rateLimit).to.include({ scope: 'acme', reason: '429 Retry-After' });

    // Another account's scope is not paused (its next turn is one interval after its poll).
    expect((await poll(other)).contacts).to.include({ fetched: 1, created: 1 });
    expect((await status(other)).rateLimit).to.include({ scope: 'globex', waitingUntil: iso(t.clock.now() + 5000), reason: 'budget exhausted' });

    // When the pause ends, both instances of the scope poll again.
    t.clock.set(pausedAt + 120_000);
    expect((await poll(a)).contacts).to.include({ fetched: 1, created: 1 });
    expect((await poll(b)).contacts).to.include({ fetched: 1, created: 1 });
    expect(
      listings()
        .slice(-2)
        .every((r) => r.at >= pausedAt + 120_000),
    ).to.equal(true);
    expect((await status(a)).objects.contacts.lastError).to.equal(null);
  });

  it('remaining 0 pauses the scope until the reset header: the next page waits for it, or the poll is delayed past the wait limit', async () => {
    const id = await create('metered', 'acme');
    const other = await create('metered', 'acme');
    t.clock.advance(60_000);
    for (let i = 0; i < 150; i++) provider.collection('contacts').upsert({ name: `c${i}` });
    // The first page says the budget is spent until `reset` (epoch seconds).
    let reset = 0;
    let served = 0;
    provider.route('GET', '/contacts', (req) => {
      const listing = listRecords(provider.collection('contacts'), new URL(`${req.path}?${new URLSearchParams(req.query)}`, provider.url));
      const spent = served++ === 0;
      return { ...listing, headers: { ...listing.headers, 'x-ratelimit-remaining': spent ? '0' : '7', 'x-ratelimit-reset': String(reset / 1000) } };
    });

    // Within the wait limit: the second page waits for the reset.
    reset = Math.ceil((t.clock.now() + 20_000) / 1000) * 1000;
    expect((await poll(id)).contacts).to.include({ fetched: 150, created: 150 });
    expect(listings()).to.have.length(2);
    expect(listings()[1].at).to.equal(reset);

    // Past it: the listing is cut after its first page (the overlap's records seen before), and
    // goes on when the budget returns.
    for (let i = 0; i < 150; i++) provider.collection('contacts').upsert({ name: `d${i}` });
    served = 0;
    reset = Math.ceil((t.clock.now() + 300_000) / 1000) * 1000;
    const cut = await poll(id);
    expect(cut.contacts).to.include({ fetched: 100, created: 0, delayedUntil: iso(reset), reason: 'remaining 0' });
    expect(cut.contacts.error).to.equal(undefined);
    const s = await status(id);
    expect(s.rateLimit).to.include({ waitingUntil: iso(reset), reason: 'remaining 0' });
    expect(s.objects.contacts).to.include({ lastError: null, consecutiveFailures: 0, nextPollDate: iso(reset) });
    expect((await poll(other)).contacts).to.include({ fetched: 0, delayedUntil: iso(reset), reason: 'remaining 0' });
    t.clock.set(reset);
    expect((await poll(id)).contacts).to.include({ created: 150 });
  });

  it('a poll out of budget is rescheduled by the scheduler, not failed, and goes on where its listing was cut', async () => {
    // One request per 100 s: every turn after the first is past the 30 s a call may wait, so each
    // scheduled poll gets one page and is cut there.
    await registerConnector(t, metered('scarce', { requests: 1, perSeconds: 100 }));
    const id = await create('scarce', 'acme');
    for (let i = 0; i < 250; i++) {
      t.clock.advance(10_000);
      provider.collection('contacts').upsert({ name: `c${i}` });
    }
    const poller = t.gateway.poller;
    let rounds = 0;
    let events = 0;
    while (events < 250 && rounds < 10) {
      t.clock.set(Math.max(t.clock.now(), Date.parse((await status(id)).objects.contacts.nextPollDate)));
      await poller.tick();
      await poller.idle();
      rounds++;
      events = ((await t.api.get(`instances/${id}/events?pageSize=500`)).body as unknown as unknown[]).length;
      const s = await status(id);
      expect(s.objects.contacts, `round ${rounds}`).to.include({ lastError: null, consecutiveFailures: 0 });
      if (events < 250)
        expect(s.rateLimit, `round ${rounds}`).to.include({ scope: 'instance 1', reason: 'budget exhausted', waitingUntil: s.objects.contacts.nextPollDate });
    }
    expect(events).to.equal(250);
    expect(rounds).to.be.within(3, 5);
    expect(listings()).to.have.length(rounds);
    for (let i = 1; i < rounds; i++) expect(listings()[i].at - listings()[i - 1].at).to.be.at.least(100_000);
  });

  it('refuses bad rateLimit and rateLimitHeaders values with 400 naming the field, and stores nothing', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ rateLimit: { requests: 0, perSeconds: 60 } }, '/rateLimit/requests'],
      [{ rateLimit: { requests: 10 } }, '/rateLimit/perSeconds'],
      [{ rateLimit: { requests: 10, perSeconds: -1 } }, '/rateLimit/perSeconds'],
      [{ rateLimit: { requests: 10, perSeconds: 1, burst: 3 } }, '/rateLimit/burst'],
      [{ rateLimit: { scope: '<%= iparam.api_key %>' } }, '/rateLimit/scope'],
      [{ rateLimit: { scope: '<%= iparam.nowhere %>' } }, '/rateLimit/scope'],
      [{ rateLimitHeaders: { remaining: 'X-RateLimit-Remaining', reset: 'X-RateLimit-Reset' } }, '/rateLimitHeaders/resetIn'],
      [{ rateLimitHeaders: { reset: 'X-Reset', resetIn: 'hours' } }, '/rateLimitHeaders/resetIn'],
      [{ rateLimitHeaders: { remaining: 'not a header' } }, '/rateLimitHeaders/remaining'],
    ];
    for (const [extra, field] of cases) {
      const res = await t.api.post('elements', { json: providerConnector('refused', extra as never) });
      expect(res.statusCode, JSON.stringify(extra)).to.equal(400);
      const body = res.body as unknown as { code: string; details: Array<{ field: string }> };
      expect(body.code).to.equal('VALIDATION_ERROR');
      expect(
        body.details.map((d) => d.field),
        JSON.stringify(extra),
      ).to.include(field);
    }
    expect((await t.api.get('elements/refused')).statusCode).to.equal(404);
  });
});
