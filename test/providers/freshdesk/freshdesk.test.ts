import { expect } from 'chai';
import got from 'got';
import { createFromDoc, docInstanceJson, eventTriples, quietPoll, postHook, type CatalogGateway } from '../catalog.js';
import { startPacedGateway } from '../paced-gateway.js';
import { pollNow } from '../../poller/helpers.js';
import { FreshdeskEmulator } from './emulator.js';

const API_KEY = docInstanceJson('freshdesk').configuration['api.key'] as string;
const SECOND = 1000;

describe('connector freshdesk (against the Freshdesk emulator)', () => {
  let t: CatalogGateway;
  let fd: FreshdeskEmulator;

  beforeEach(async () => {
    t = await startPacedGateway(); // Freshdesk's per-minute limits are enforced by the emulator
    fd = await FreshdeskEmulator.start(API_KEY);
    fd.provider.now = () => t.clock.now();
    fd.tickets.seed(3, (i) => ({ subject: `old ${i}`, status: 2 }), t.clock.now() - 86_400_000);
    fd.contacts.seed(2, (i) => ({ name: `old ${i}` }), t.clock.now() - 86_400_000);
  });

  afterEach(async () => {
    await t.close();
    await fd.close();
  });

  describe('the emulator answers as Freshdesk documents', () => {
    const get = (path: string, key = API_KEY) =>
      got(`${fd.baseUrl}${path}`, { username: key, password: 'X', throwHttpErrors: false, responseType: 'json', retry: { limit: 0 } });

    it("401 with Freshdesk's body for a wrong key; 400 naming unknown or malformed parameters; rate headers", async () => {
      const denied = await get('/tickets', 'wrong');
      expect(denied.statusCode).to.equal(401);
      expect(denied.body).to.deep.equal({ code: 'invalid_credentials', message: 'You have to be logged in to perform this action.' });
      const bad = await get('/tickets?updated_after=2026-01-01&per_page=101&updated_since=yesterday');
      expect(bad.statusCode).to.equal(400);
      expect((bad.body as { errors: Array<{ field: string; code: string }> }).errors.map((e) => [e.field, e.code])).to.deep.equal([
        ['updated_after', 'invalid_field'],
        ['per_page', 'invalid_value'],
        ['updated_since', 'invalid_value'],
      ]);
      expect((await get('/tickets?page=301')).statusCode).to.equal(400);
      const ok = await get('/tickets?updated_since=2026-11-01T00:00:00Z');
      expect(ok.statusCode).to.equal(200);
      expect(ok.headers['x-ratelimit-total']).to.equal('200');
      expect(Number(ok.headers['x-ratelimit-remaining'])).to.be.below(200);
      expect((ok.body as Array<{ updated_at: string }>)[0].updated_at).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    });
  });

  it("the doc page's instance JSON creates a working instance; old records raise nothing", async () => {
    const { id } = await createFromDoc(t, 'freshdesk', fd.baseUrl);
    t.clock.advance(60 * SECOND);
    expect(await pollNow(t, id)).to.deep.equal(quietPoll('incidents', 'contacts'));
    const sent = fd.provider.requests.find((r) => r.path === '/api/v2/tickets' && !r.query.filter)!;
    expect(sent.query).to.deep.equal({
      updated_since: new Date(t.clock.now() - 60 * SECOND).toISOString().replace('.000', ''),
      order_by: 'updated_at',
      order_type: 'asc',
      per_page: '100',
    });
    expect(sent.headers.authorization).to.equal(`Basic ${Buffer.from(`${API_KEY}:X`).toString('base64')}`);
  });

  it('creates and updates across pages arrive once each, with objectType, objectId and eventType', async () => {
    const { id } = await createFromDoc(t, 'freshdesk', fd.baseUrl);
    t.clock.advance(SECOND);
    for (let i = 0; i < 150; i++) {
      fd.tickets.upsert({ subject: `new ${i}`, status: 2 });
      t.clock.advance(SECOND);
    }
    fd.tickets.update(1, { status: 4 }); // an old ticket, edited now
    fd.contacts.upsert({ name: 'Ada' });
    t.clock.advance(SECOND);
    const first = await pollNow(t, id);
    expect(first.incidents).to.include({ fetched: 151, created: 150, updated: 1 });
    expect(first.contacts).to.include({ created: 1 });
    // The deleted listing goes first, then the tickets.
    const tickets = fd.provider.requests.filter((r) => r.path === '/api/v2/tickets');
    expect(tickets.map((r) => r.query.filter ?? 'main')).to.deep.equal(['deleted', 'main', 'main']); // then two pages via Link

    t.clock.advance(10 * SECOND);
    fd.tickets.update(4, { status: 5 });
    t.clock.advance(SECOND);
    expect((await pollNow(t, id)).incidents).to.include({ created: 0, updated: 1 });

    const events = await eventTriples(t, id);
    const incidents = events.filter((e) => e[1] === 'incidents');
    expect(incidents).to.have.length(152);
    expect(incidents.slice(0, 3)).to.deep.equal([
      ['CREATED', 'incidents', '4'],
      ['CREATED', 'incidents', '5'],
      ['CREATED', 'incidents', '6'],
    ]);
    expect(incidents.filter((e) => e[0] === 'UPDATED')).to.deep.equal([
      ['UPDATED', 'incidents', '1'],
      ['UPDATED', 'incidents', '4'],
    ]);
    expect(new Set(incidents.filter((e) => e[0] === 'CREATED').map((e) => e[2])).size).to.equal(150);
    expect(events.filter((e) => e[1] === 'contacts')).to.deep.equal([['CREATED', 'contacts', '3']]);
  });

  it('crosses the 300-page cap without losing or repeating a ticket', async function () {
    // 605 tickets over 300+ pages and ~80 polls: seconds alone, more on a loaded machine than the suite's 20 s.
    this.timeout(60_000);
    // 2 tickets a page (per_page is the instance's choice) makes 300 pages 600 tickets.
    const json = docInstanceJson('freshdesk');
    const { id } = await createFromDoc(t, 'freshdesk', fd.baseUrl, {
      'event.poller.configuration': {
        incidents: {
          url: "/tickets?updated_since=${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}&order_by=updated_at&order_type=asc&per_page=2",
          idField: 'id',
          datesConfiguration: { updatedDateField: 'updated_at', updatedDateFormat: "yyyy-MM-dd'T'HH:mm:ss'Z'" },
        },
      },
    });
    expect(json.element.key).to.equal('freshdesk');
    t.clock.advance(SECOND);
    for (let i = 0; i < 605; i++) {
      fd.tickets.upsert({ subject: `burst ${i}` });
      t.clock.advance(SECOND);
    }
    // Growth's 20 ticket-list calls a minute: the listing waits out 429s, and a wait longer than the
    // gateway takes in one go delays the poll (not failed); polls go on until one is quiet.
    const delays: string[] = [];
    for (let n = 0; n < 80; n++) {
      const summary = (await pollNow(t, id)).incidents as { created: number; updated: number; error?: string; delayedUntil?: string; reason?: string };
      expect(summary).to.not.have.property('error');
      if (summary.delayedUntil) {
        delays.push(summary.reason!);
        t.clock.set(Date.parse(summary.delayedUntil) + SECOND);
      } else if (summary.created === 0 && summary.updated === 0) break;
      else t.clock.advance(SECOND);
    }
    expect(delays.length).to.be.greaterThan(0);
    expect(delays.every((r) => /429/.test(r))).to.equal(true);
    expect(fd.provider.requests.some((r) => r.query.page === '301')).to.equal(false);
    const ids = (await eventTriples(t, id)).map((e) => Number(e[2]));
    expect(ids).to.have.length(605);
    expect(new Set(ids).size).to.equal(605);
  });

  it('deleted tickets and contacts (filter=deleted, state=deleted) raise DELETED once', async () => {
    const { id } = await createFromDoc(t, 'freshdesk', fd.baseUrl);
    t.clock.advance(SECOND);
    const ticket = fd.tickets.upsert({ subject: 'short-lived' });
    t.clock.advance(SECOND);
    await pollNow(t, id);
    t.clock.advance(10 * SECOND);
    fd.deleteTicket(Number(ticket.id));
    fd.deleteTicket(2); // an old ticket, never seen, deleted now
    fd.deleteContact(1);
    t.clock.advance(SECOND);
    const result = await pollNow(t, id);
    expect(result.incidents).to.include({ deleted: 2, created: 0, updated: 0 });
    expect(result.contacts).to.include({ deleted: 1 });
    expect(fd.provider.requests.filter((r) => r.query.filter === 'deleted').at(-1)!.query).to.include({ order_by: 'updated_at', per_page: '100' });
    // Listed again within the overlap: nothing new.
    t.clock.advance(10 * SECOND);
    expect(await pollNow(t, id)).to.deep.include({ incidents: { fetched: 2, created: 0, updated: 0, deleted: 0 } });
    // Objects are polled side by side: compare each object's events in order.
    const events = await eventTriples(t, id);
    expect(events.filter((e) => e[1] === 'incidents')).to.deep.equal([
      // Deleted in one second: listed by updated_at, then id.
      ['CREATED', 'incidents', String(ticket.id)],
      ['DELETED', 'incidents', '2'],
      ['DELETED', 'incidents', String(ticket.id)],
    ]);
    expect(events.filter((e) => e[1] === 'contacts')).to.deep.equal([['DELETED', 'contacts', '1']]);
  });

  it('429 → waits Retry-After and completes', async () => {
    const { id } = await createFromDoc(t, 'freshdesk', fd.baseUrl);
    t.clock.advance(SECOND);
    fd.tickets.upsert({ subject: 'during the storm' });
    t.clock.advance(SECOND);
    fd.throttleNext(1, 7, '/api/v2/tickets');
    const result = await pollNow(t, id);
    expect(result.incidents).to.include({ created: 1 });
    expect(t.sleeps).to.include(7000);
    // The deleted listing goes first: its first call met the 429 and was retried.
    const tickets = fd.provider.requests.filter((r) => r.path === '/api/v2/tickets');
    expect(tickets.map((r) => r.query.filter ?? 'main')).to.deep.equal(['deleted', 'deleted', 'main']);
  });

  it("webhook mode: the shared-secret header is required (401 otherwise) and the rule's body is mapped", async () => {
    const secret = 'rule-secret-1234';
    const instance = await createFromDoc(t, 'freshdesk', fd.baseUrl, { 'event.vendor.type': 'webhook', 'webhook.secret': secret });
    const body = JSON.stringify({ event: 'created', ticket: { id: 77, subject: 'From a rule', status: '2', updated_at: '2026-11-24T10:00:05Z' } });
    expect((await postHook(instance.hookUrl!, body, { 'x-pollgate-secret': 'guess' })).statusCode).to.equal(401);
    expect((await postHook(instance.hookUrl!, body, {})).statusCode).to.equal(401);
    expect((await postHook(instance.hookUrl!, body, { 'x-pollgate-secret': secret })).statusCode).to.be.within(200, 299);
    await t.gateway.webhooks.processor.tick();
    expect(await eventTriples(t, instance.id)).to.deep.equal([['CREATED', 'incidents', '77']]);
  });
});
