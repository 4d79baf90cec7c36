import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import got, { type Response } from 'got';
import { ManualClock } from '../../src/clock.js';
import { validateConnector } from '../../src/connector-sections.js';
import { resolvePollerObject } from '../../src/connectors/resolve.js';
import { EmulatedProvider, type ProviderRecord, type Style } from '../../sandbox/provider-server.js';
import { Receiver } from './receiver.js';
import { SANDBOX_SEEDED_AT, SandboxProvider, signSandboxBody } from '../../sandbox/sandbox.js';

/** Self-tests of the emulated provider APIs, walked by hand with got as a client would. */
const http = got.extend({ throwHttpErrors: false, retry: { limit: 0 } });
const getJson = (url: string, headers: Record<string, string> = {}) => http.get(url, { headers, responseType: 'json' }) as Promise<Response<any>>;
const ids = (rows: ProviderRecord[]) => rows.map((r) => r.id);

/** Waits (event-loop turns, no timers) until a condition the server under test flips. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe('emulated provider', () => {
  let provider: EmulatedProvider;
  const clock = new ManualClock();

  beforeEach(async () => {
    clock.set('2026-11-24T10:00:00.000Z');
    provider = await EmulatedProvider.start();
    provider.now = () => clock.now();
  });
  afterEach(() => provider.close());

  describe('pagination: 7 records in pages of 3 walked by hand', () => {
    beforeEach(() => {
      const items = provider.collection('items');
      items.defaultPageSize = 3;
      for (let i = 1; i <= 7; i++) items.upsert({ name: `item ${i}`, kind: 'item' }, clock.now() + i * 1000);
    });

    /** Follows `next` from the first URL until it says there is no next page. */
    async function walk(style: Style, first: string, next: (res: Response<any>, url: string) => string | undefined, rows: (body: any) => ProviderRecord[]) {
      provider.collection('items').style = style;
      const pages: unknown[][] = [];
      for (let url: string | undefined = `${provider.url}${first}`; url; ) {
        const res = await getJson(url);
        expect(res.statusCode, JSON.stringify(res.body)).to.equal(200);
        pages.push(ids(rows(res.body)));
        url = next(res, url);
        if (pages.length > 5) throw new Error('pagination never ends');
      }
      expect(pages).to.deep.equal([[1, 2, 3], [4, 5, 6], [7]]);
    }

    it('page + per_page, bare array (stops at a short page)', () =>
      walk(
        'page',
        '/items?page=1&per_page=3',
        (res, url) => {
          if (res.body.length < 3) return undefined;
          const u = new URL(url);
          u.searchParams.set('page', String(Number(u.searchParams.get('page')) + 1));
          return u.toString();
        },
        (body) => body,
      ));

    it('offset + limit, bare array', () =>
      walk(
        'offset',
        '/items?offset=0&limit=3',
        (res, url) => {
          if (res.body.length < 3) return undefined;
          const u = new URL(url);
          u.searchParams.set('offset', String(Number(u.searchParams.get('offset')) + 3));
          return u.toString();
        },
        (body) => body,
      ));

    it('cursor + limit, {data, next_cursor}', () =>
      walk(
        'cursor',
        '/items?limit=3',
        (res) => res.body.next_cursor && `${provider.url}/items?limit=3&cursor=${res.body.next_cursor}`,
        (body) => body.data,
      ));

    it('Link header rel="next" (default page size, filters kept in the next URL)', async () => {
      provider.collection('items').upsert({ id: 99, name: 'other', kind: 'other' }, clock.now() - 1000);
      await walk(
        'link',
        '/items?kind=item',
        (res) => /<([^>]+)>;\s*rel="next"/.exec(String(res.headers.link ?? ''))?.[1],
        (body) => body,
      );
    });

    it('HAL _links.next.href with _embedded.items', () =>
      walk(
        'hal',
        '/items?per_page=3',
        (res) => res.body._links.next?.href,
        (body) => body._embedded.items,
      ));

    it('answers 400 naming a bad paging parameter or cursor', async () => {
      for (const [style, query, param] of [
        ['page', 'page=0', 'page'],
        ['page', 'per_page=x', 'per_page'],
        ['offset', 'offset=-1', 'offset'],
        ['cursor', 'cursor=bogus', 'cursor'],
      ] as const) {
        provider.collection('items').style = style;
        const res = await getJson(`${provider.url}/items?${query}`);
        expect(res.statusCode).to.equal(400);
        expect(res.body.error).to.include(param);
      }
    });
  });

  describe('records and filters', () => {
    it('stamps records with the provider clock and lists them by updated_at then id', async () => {
      const contacts = provider.collection('contacts');
      const a = contacts.upsert({ name: 'a' });
      expect(a).to.include({ id: 1, created_at: '2026-11-24T10:00:00.000Z', updated_at: '2026-11-24T10:00:00.000Z' });
      contacts.upsert({ id: 10, name: 'b' });
      expect(contacts.upsert({ name: 'c' }).id, 'ids continue after a given one').to.equal(11);
      clock.advance(5000);
      contacts.update(1, { name: 'a2' });
      expect(contacts.get(1)).to.include({ name: 'a2', created_at: '2026-11-24T10:00:00.000Z', updated_at: '2026-11-24T10:00:05.000Z' });
      expect(ids((await getJson(`${provider.url}/contacts`)).body)).to.deep.equal([10, 11, 1]);
    });

    it('filters by updated_since (strictly after; ISO or epoch seconds), updated_at_gte, created_since and field equality', async () => {
      const c = provider.collection('contacts');
      c.seed(2, (i) => ({ team: i === 0 ? 'red' : 'blue' }), Date.parse('2026-11-24T09:00:00.000Z'));
      c.upsert({ team: 'red' }, Date.parse('2026-11-24T10:00:00.000Z'));
      c.update(2, { team: 'blue' }, Date.parse('2026-11-24T10:30:00.000Z'));
      const list = async (query: string) => ids((await getJson(`${provider.url}/contacts?${query}`)).body);
      expect(await list('updated_since=2026-11-24T10:00:00Z')).to.deep.equal([2]);
      expect(await list('updated_at_gt=2026-11-24T09:59:59.999Z')).to.deep.equal([3, 2]);
      expect(await list(`updated_since=${Date.parse('2026-11-24T10:00:00Z') / 1000}`)).to.deep.equal([2]);
      expect(await list('updated_at_gte=2026-11-24T10:00:00.000Z')).to.deep.equal([3, 2]);
      expect(await list('created_since=2026-11-24T09:00:00Z')).to.deep.equal([3]);
      expect(await list('team=red')).to.deep.equal([1, 3]);
      expect(await list('team=blue&updated_since=2026-11-24T09:00:00Z')).to.deep.equal([2]);
      const bad = await getJson(`${provider.url}/contacts?updated_since=yesterday`);
      expect(bad.statusCode).to.equal(400);
      expect(bad.body.error).to.include('updated_since');
    });

    it('creates, reads, updates and deletes records over HTTP; bad bodies answer 400', async () => {
      provider.collection('tickets');
      const created = (await http.post(`${provider.url}/tickets`, { json: { id: 500, subject: 'hi' }, responseType: 'json' })) as Response<any>;
      expect(created.statusCode).to.equal(201);
      expect(created.body).to.include({ id: 1, subject: 'hi', updated_at: '2026-11-24T10:00:00.000Z' });
      clock.advance(60_000);
      const patched = (await http.patch(`${provider.url}/tickets/1`, { json: { status: 'closed' }, responseType: 'json' })) as Response<any>;
      expect(patched.body).to.include({ subject: 'hi', status: 'closed', updated_at: '2026-11-24T10:01:00.000Z', created_at: '2026-11-24T10:00:00.000Z' });
      expect((await getJson(`${provider.url}/tickets/1`)).body).to.deep.equal(patched.body);

      const malformed = (await http.put(`${provider.url}/tickets/1`, {
        body: '{"status":',
        headers: { 'content-type': 'application/json' },
        responseType: 'json',
      })) as Response<any>;
      expect(malformed.statusCode).to.equal(400);
      expect(malformed.body.error).to.match(/malformed JSON/);
      expect((await http.post(`${provider.url}/tickets`, { json: [1, 2] })).statusCode).to.equal(400);

      expect((await http.delete(`${provider.url}/tickets/1`)).statusCode).to.equal(204);
      expect((await getJson(`${provider.url}/tickets/1`)).statusCode).to.equal(404);
      expect((await getJson(`${provider.url}/nothing`)).statusCode).to.equal(404);
    });
  });

  describe('authentication', () => {
    const cases = [
      {
        auth: { type: 'basic', username: 'u', password: 'p' },
        good: { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` },
        bad: { authorization: 'Basic eDp5' },
      },
      { auth: { type: 'bearer', token: 't0k' }, good: { authorization: 'Bearer t0k' }, bad: { authorization: 'Bearer nope' } },
      { auth: { type: 'header', name: 'X-Api-Key', value: 'k1' }, good: { 'x-api-key': 'k1' }, bad: { 'x-api-key': 'k2' } },
      { auth: { type: 'header', name: 'X-Api-Key' }, good: { 'x-api-key': 'anything' }, bad: { 'x-api-key': '' } },
    ] as const;
    for (const { auth, good, bad } of cases) {
      it(`${auth.type}${'value' in auth || auth.type !== 'header' ? '' : ' (any value)'}: 401 without or with wrong credentials, 200 with them`, async () => {
        provider.requireAuth = auth;
        provider.collection('contacts');
        expect((await getJson(`${provider.url}/contacts`)).statusCode).to.equal(401);
        expect((await getJson(`${provider.url}/contacts`, bad)).statusCode).to.equal(401);
        expect((await getJson(`${provider.url}/contacts`, good)).statusCode).to.equal(200);
      });
    }
  });

  describe('faults, routes and observation', () => {
    it('failNext answers the next n matching requests with the canned response, then recovers', async () => {
      provider.collection('contacts');
      provider.collection('tickets');
      provider.failNext(2, { status: 429, headers: { 'retry-after': '7' }, body: { error: 'slow down' } }, { path: '/contacts' });
      expect((await getJson(`${provider.url}/tickets`)).statusCode, 'other paths unaffected').to.equal(200);
      const first = await getJson(`${provider.url}/contacts?page=1`);
      expect(first.statusCode).to.equal(429);
      expect(first.headers['retry-after']).to.equal('7');
      expect(first.body).to.deep.equal({ error: 'slow down' });
      expect((await getJson(`${provider.url}/contacts/1`)).statusCode, 'a path prefix matches').to.equal(429);
      expect((await getJson(`${provider.url}/contacts`)).statusCode).to.equal(200);
    });

    it('records requests and counts concurrent ones per collection key and path', async () => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      provider.route('GET', '/gate/:n', async ({ params }) => (await gate, { status: 200, body: { n: params.n } }));
      const answers = Promise.all([1, 2, 3].map((n) => http.get(`${provider.url}/gate/${n}?page=${n}`, { headers: { 'x-trace': String(n) } })));
      await until(() => provider.inFlight('gate') === 3);
      expect([provider.inFlight(), provider.inFlight('/gate/2'), provider.inFlight('other')]).to.deep.equal([3, 1, 0]);
      release();
      await answers;
      expect([provider.maxInFlight('gate'), provider.inFlight('gate'), provider.maxInFlight('/gate/1')]).to.deep.equal([3, 0, 1]);
      const r = provider.requests.find((q) => q.query.page === '2')!;
      expect(r).to.include({ method: 'GET', path: '/gate/2', body: '', at: clock.now() });
      expect(r.headers['x-trace']).to.equal('2');
      provider.clearRequests();
      expect(provider.requests).to.have.length(0);
    });

    it('delayNext holds the next matching answers', async () => {
      provider.collection('items');
      provider.delayNext(1, 25, { path: '/items' });
      const started = Date.now();
      expect((await http.get(`${provider.url}/items`)).statusCode).to.equal(200);
      expect(Date.now() - started).to.be.at.least(24);
    });

    it('close() ends a request the provider is still holding', async () => {
      provider.collection('items');
      provider.delayNext(1, 60_000);
      const pending = http.get(`${provider.url}/items`);
      await until(() => provider.inFlight() === 1 && provider.requests.length === 1);
      await provider.close();
      const outcome = await pending.then(
        () => 'answered',
        (err: Error) => err.message,
      );
      expect(outcome).to.match(/socket hang up|ECONNRESET/);
    });

    it('route() serves ad-hoc endpoints with :params and parsed JSON, newest first', async () => {
      provider.route('POST', '/hooks/:id/ping', ({ params, json }) => ({ status: 202, body: { id: params.id, got: json } }));
      const res = (await http.post(`${provider.url}/hooks/a%20b/ping`, { json: { n: 1 }, responseType: 'json' })) as Response<any>;
      expect(res.statusCode).to.equal(202);
      expect(res.body).to.deep.equal({ id: 'a b', got: { n: 1 } });
      provider.route('GET', '/v1.0/status', () => ({ status: 200, body: 'old' }));
      provider.route('GET', '/v1.0/status', () => ({ status: 200, body: 'new' }));
      expect((await http.get(`${provider.url}/v1.0/status`)).body).to.equal('new');
      expect((await http.get(`${provider.url}/v1x0/status`)).statusCode, 'a dot in a route is literal').to.equal(404);
      provider.route('GET', '/boom', () => {
        throw new Error('handler bug');
      });
      expect((await http.get(`${provider.url}/boom`)).statusCode).to.equal(500);
    });
  });
});

describe('callback receiver', () => {
  let receiver: Receiver;
  beforeEach(async () => {
    receiver = await Receiver.start();
  });
  afterEach(() => receiver.close());

  it('answers from its script in order, then with the default; parses JSON, form and XML bodies', async () => {
    receiver.respondWith({ status: 500, body: { error: 'down' } }, { status: 429, headers: { 'retry-after': '3' } });
    const first = await http.post(`${receiver.url}/cb`, { json: { a: 1 } });
    const second = await http.post(`${receiver.url}/cb?x=1`, { form: { b: '2' } });
    const third = await http.put(`${receiver.url}/cb`, { body: '<note><to>x</to></note>', headers: { 'content-type': 'application/xml' } });
    expect([first.statusCode, second.statusCode, third.statusCode]).to.deep.equal([500, 429, 200]);
    expect(second.headers['retry-after']).to.equal('3');
    const got3 = await receiver.waitFor(3);
    expect(got3.map((r) => r.body)).to.deep.equal([{ a: 1 }, { b: '2' }, { note: { to: 'x' } }]);
    expect(got3.map((r) => `${r.method} ${r.path}`)).to.deep.equal(['POST /cb', 'POST /cb?x=1', 'PUT /cb']);
    expect(got3[0].raw.toString()).to.equal('{"a":1}');
  });

  it('waitFor resolves as requests arrive and rejects with a clear message after its timeout', async () => {
    const waiting = receiver.waitFor(2, 2000);
    await http.post(receiver.url, { json: {} });
    await http.post(receiver.url, { json: {} });
    expect(await waiting).to.have.length(2);
    const err = await receiver.waitFor(3, 20).catch((e: Error) => e);
    expect((err as Error).message).to.equal('receiver: expected 3 request(s) within 20 ms, got 2');
  });

  it('a hung request stays open until close(), which ends it at once', async () => {
    receiver.respondWith({ status: 200, hang: true });
    const pending = http.post(receiver.url, { json: { id: 1 }, headers: { 'webhook-id': 'msg_1' } });
    await receiver.waitFor(1);
    expect(receiver.maxConcurrentPerId).to.equal(1);
    await receiver.close();
    expect(
      await pending.then(
        () => 'answered',
        (err: Error) => err.message,
      ),
    ).to.match(/socket hang up|ECONNRESET/);
  });
});

describe('sandbox provider and its connector', () => {
  let sandbox: SandboxProvider;
  let receiver: Receiver;
  const key = { 'x-api-key': 'any' };
  beforeEach(async () => {
    sandbox = await SandboxProvider.start();
    receiver = await Receiver.start();
  });
  afterEach(async () => {
    await sandbox.close();
    await receiver.close();
  });

  it('serves seeded contacts and tickets from long ago, paged, only with an X-Api-Key', async () => {
    expect((await getJson(`${sandbox.url}/contacts`)).statusCode).to.equal(401);
    const contacts = await getJson(`${sandbox.url}/contacts?page=1&per_page=2`, key);
    expect(contacts.body.map((c: ProviderRecord) => c.name)).to.deep.equal(['Ada Lovelace', 'Grace Hopper']);
    expect(contacts.body[0].updated_at).to.equal(new Date(SANDBOX_SEEDED_AT).toISOString());
    expect((await getJson(`${sandbox.url}/tickets`, key)).body).to.have.length(2);
  });

  it('pushes signed changes to subscribers when pushWebhooks is on, and none when off', async () => {
    const sub = (await http.post(`${sandbox.url}/webhooks`, {
      headers: key,
      json: { url: `${receiver.url}/in`, secret: 's3cret' },
      responseType: 'json',
    })) as Response<any>;
    expect(sub.statusCode).to.equal(201);
    await http.post(`${sandbox.url}/webhooks`, { headers: key, json: { url: `${receiver.url}/plain` } });
    sandbox.provider.collection('contacts').update(1, { email: 'ada@example.org' });
    await sandbox.flush();
    expect(receiver.received, 'pushing is off by default').to.have.length(0);

    sandbox.pushWebhooks = true;
    sandbox.provider.collection('tickets').upsert({ subject: 'new' });
    await sandbox.flush();
    const [signed, plain] = [...(await receiver.waitFor(2))].sort((a, b) => a.path.localeCompare(b.path));
    expect(signed.path).to.equal('/in');
    expect(signed.headers['x-sandbox-signature']).to.equal(`sha256=${createHmac('sha256', 's3cret').update(signed.raw).digest('hex')}`);
    expect(signed.headers['x-sandbox-signature']).to.equal(signSandboxBody('s3cret', signed.raw));
    expect(signed.headers['x-sandbox-delivery']).to.match(/^[0-9a-f-]{36}$/);
    expect(plain.headers['x-sandbox-delivery']).not.to.equal(signed.headers['x-sandbox-delivery']);
    expect(plain.headers).not.to.have.property('x-sandbox-signature');
    const body = signed.body as { events: Array<{ collection: string; action: string; record: ProviderRecord; at: string }> };
    expect(body.events).to.have.length(1);
    expect(body.events[0]).to.deep.include({ collection: 'tickets', action: 'created', at: body.events[0].record.updated_at });
    expect(body.events[0].record).to.include({ id: 3, subject: 'new' });

    const list = await getJson(`${sandbox.url}/webhooks`, key);
    expect(list.body.map((w: { id: string }) => w.id)).to.include(sub.body.id);
    expect((await http.delete(`${sandbox.url}/webhooks/${sub.body.id}`, { headers: key })).statusCode).to.equal(204);
    expect((await http.delete(`${sandbox.url}/webhooks/${sub.body.id}`, { headers: key })).statusCode).to.equal(404);
    expect((await http.post(`${sandbox.url}/webhooks`, { headers: key, json: { url: 'not a url' } })).statusCode).to.equal(400);
  });

  it('connectors/sandbox.json validates, and its pollers resolve to the sandbox paths and filter', async () => {
    const def = validateConnector(JSON.parse(await readFile(new URL('../../connectors/sandbox.json', import.meta.url), 'utf8')), 'connectors/sandbox.json');
    expect(def.key).to.equal('sandbox');
    expect(def.events?.supported).to.deep.equal(['polling', 'webhook']);
    for (const objectType of ['contacts', 'tickets']) {
      const resolved = resolvePollerObject(def, objectType, def.events!.poller![objectType] as unknown as Record<string, unknown>);
      expect(resolved).to.deep.include({ method: 'GET', path: `/${objectType}`, idField: 'id' });
      expect(Object.keys(resolved.query)).to.deep.equal(['updated_since']);
    }
  });
});
