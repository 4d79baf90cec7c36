import { expect } from 'chai';
import got from 'got';
import { createFromDoc, docInstanceJson, eventTriples, quietPoll, startCatalogGateway, type CatalogGateway } from '../catalog.js';
import { pollNow } from '../../poller/helpers.js';
import { IntercomEmulator } from './emulator.js';

const TOKEN = docInstanceJson('intercom').configuration['api.key'] as string;
const SECOND = 1000;

describe('connector intercom (against the Intercom emulator)', () => {
  let t: CatalogGateway;
  let ic: IntercomEmulator;
  const searches = () => ic.provider.requests.filter((r) => r.path === '/contacts/search');

  beforeEach(async () => {
    t = await startCatalogGateway();
    ic = await IntercomEmulator.start(TOKEN);
    ic.provider.now = () => t.clock.now();
    ic.contacts.seed(3, (i) => ({ id: `old${i}`, email: `old${i}@example.com` }), t.clock.now() - 86_400_000);
  });

  afterEach(async function () {
    await t.close();
    await ic.close();
    // Every request the connector sent is valid for Intercom's description (the first test sends invalid ones on purpose).
    if (!this.currentTest?.title.startsWith('the emulator answers')) expect(ic.invalidRequests).to.deep.equal([]);
  });

  it('the emulator answers as Intercom documents: 401 error.list, 400 parameter_invalid, rate headers', async () => {
    const post = (json: unknown, token = TOKEN) =>
      got.post(`${ic.baseUrl}/contacts/search`, {
        json,
        headers: { authorization: `Bearer ${token}` },
        throwHttpErrors: false,
        responseType: 'json',
        retry: { limit: 0 },
      });
    const denied = await post({ query: { field: 'updated_at', operator: '>', value: 0 } }, 'nope');
    expect(denied.statusCode).to.equal(401);
    expect(denied.body).to.deep.include({ type: 'error.list', errors: [{ code: 'unauthorized', message: 'Access Token Invalid' }] });
    for (const bad of [
      { query: { field: 'updated_at', operator: '>', value: '2026-11-24' } },
      { query: { field: 'updated_at', operator: '>>', value: 0 } },
      { query: { field: 'updated_at', operator: '>', value: 0 }, pagination: { per_page: 151 } },
      { query: { field: 'updated_at', operator: '>', value: 0 }, limit: 5 },
    ]) {
      const res = await post(bad);
      expect(res.statusCode, JSON.stringify(bad)).to.equal(400);
      expect((res.body as { errors: Array<{ code: string }> }).errors[0].code).to.equal('parameter_invalid');
    }
    const ok = await post({ query: { field: 'updated_at', operator: '>', value: 0 }, pagination: { per_page: 2 } });
    expect(ok.headers['x-ratelimit-limit']).to.equal('1666');
    const body = ok.body as { data: Array<{ id: string; updated_at: number }>; pages: { next?: { starting_after: string } } };
    expect(body.data.map((c) => typeof c.updated_at)).to.deep.equal(['number', 'number']);
    expect(body.pages.next?.starting_after).to.be.a('string');
  });

  it("the doc page's instance JSON creates a working instance; old records raise nothing", async () => {
    const { id } = await createFromDoc(t, 'intercom', ic.baseUrl);
    t.clock.advance(30 * SECOND);
    expect(await pollNow(t, id)).to.deep.equal(quietPoll('contacts', 'conversations'));
    const [search] = searches();
    expect(JSON.parse(search.body)).to.deep.equal({
      // The since-time less the connector's lookback (25 h): Intercom compares dates by whole days.
      query: { field: 'updated_at', operator: '>', value: String((t.clock.now() - 30 * SECOND) / 1000 - 90_000) },
      pagination: { per_page: 150 },
      sort: { field: 'updated_at', order: 'ascending' },
    });
    expect(search.headers['intercom-version']).to.equal('2.11');
  });

  it('creates and updates across pages (starting_after) arrive once each', async () => {
    const { id } = await createFromDoc(t, 'intercom', ic.baseUrl);
    t.clock.advance(SECOND);
    for (let i = 0; i < 200; i++) {
      ic.contacts.upsert({ id: `c${i}`, email: `c${i}@example.com` });
      t.clock.advance(SECOND);
    }
    ic.conversations.upsert({ id: 'conv1', state: 'open' });
    ic.contacts.update('old1', { email: 'renamed@example.com' });
    t.clock.advance(SECOND);
    const first = await pollNow(t, id);
    expect(first.contacts).to.include({ fetched: 201, created: 200, updated: 1 });
    expect(first.conversations).to.include({ created: 1 });
    const pages = searches().map((r) => JSON.parse(r.body).pagination);
    expect(pages).to.have.length(2);
    expect(pages[1]).to.have.property('per_page', 150);
    expect(pages[1].starting_after).to.be.a('string');

    t.clock.advance(5 * SECOND);
    ic.contacts.update('c7', { email: 'again@example.com' });
    t.clock.advance(SECOND);
    expect((await pollNow(t, id)).contacts).to.include({ created: 0, updated: 1 });
    const events = await eventTriples(t, id);
    expect(events.filter((e) => e[0] === 'UPDATED')).to.deep.equal([
      ['UPDATED', 'contacts', 'old1'],
      ['UPDATED', 'contacts', 'c7'],
    ]);
    expect(new Set(events.filter((e) => e[0] === 'CREATED' && e[1] === 'contacts').map((e) => e[2])).size).to.equal(200);
    expect(events).to.deep.include(['CREATED', 'conversations', 'conv1']);
    expect(events).to.have.length(203);
  });

  it('429 → waits and completes', async () => {
    const { id } = await createFromDoc(t, 'intercom', ic.baseUrl);
    t.clock.advance(SECOND);
    ic.contacts.upsert({ id: 'late', email: 'late@example.com' });
    t.clock.advance(SECOND);
    ic.throttleNext(1);
    const result = await pollNow(t, id);
    expect(result.contacts.created + result.conversations.created).to.equal(1);
    expect(t.sleeps.length).to.be.greaterThan(0);
  });

  it('webhook mode: X-Hub-Signature (sha1 with the client secret) is verified (401 otherwise) and notifications are mapped', async () => {
    const clientSecret = 'ic-client-secret-1234';
    const instance = await createFromDoc(t, 'intercom', ic.baseUrl, { 'event.vendor.type': 'webhook', 'oauth.api.secret': clientSecret });
    const contact = ic.contacts.upsert({ id: 'c-hook', email: 'hook@example.com' });
    const conversation = ic.conversations.upsert({ id: 'conv-hook', state: 'closed' });
    expect((await ic.notify(instance.hookUrl!, 'contact.user.created', contact, 'not-the-secret')).statusCode).to.equal(401);
    expect((await ic.notify(instance.hookUrl!, 'contact.user.created', contact, clientSecret)).statusCode).to.be.within(200, 299);
    expect((await ic.notify(instance.hookUrl!, 'conversation.admin.closed', conversation, clientSecret)).statusCode).to.be.within(200, 299);
    expect((await ic.notify(instance.hookUrl!, 'contact.deleted', contact, clientSecret)).statusCode).to.be.within(200, 299);
    await t.gateway.webhooks.processor.tick();
    expect(await eventTriples(t, instance.id)).to.have.deep.members([
      ['CREATED', 'contacts', 'c-hook'],
      ['UPDATED', 'conversations', 'conv-hook'],
      ['DELETED', 'contacts', 'c-hook'],
    ]);
  });
});
