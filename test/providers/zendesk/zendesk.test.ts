import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import got from 'got';
import { verifySignature } from '../../../src/webhooks/signatures.js';
import { createFromDoc, docInstanceJson, eventTriples, quietPoll, startCatalogGateway, type CatalogGateway } from '../catalog.js';
import { pollNow } from '../../poller/helpers.js';
import { ZendeskEmulator } from './emulator.js';
import { USER_EVENT_TYPES, isZendeskSubscription } from './event-types.js';

const DOC = docInstanceJson('zendesk').configuration;
const SECOND = 1000;
const MINUTE = 60 * SECOND;

describe('connector zendesk (against the Zendesk emulator)', () => {
  let t: CatalogGateway;
  let zd: ZendeskEmulator;
  const exports = () => zd.provider.requests.filter((r) => r.path === '/api/v2/incremental/tickets/cursor');

  beforeEach(async () => {
    t = await startCatalogGateway();
    zd = await ZendeskEmulator.start(DOC['zendesk.email'] as string, DOC['api.key'] as string);
    zd.provider.now = () => t.clock.now();
    zd.tickets.seed(3, (i) => ({ subject: `old ${i}`, status: 'open' }), t.clock.now() - 86_400_000);
    zd.users.seed(2, (i) => ({ name: `old ${i}`, active: true }), t.clock.now() - 86_400_000);
  });

  afterEach(async () => {
    // Every export request the connector sent in the test is one Zendesk's description accepts.
    expect(zd.invalidRequests.map((r) => [r.request.path, r.request.query, r.errors])).to.deep.equal([]);
    await t.close();
    await zd.close();
  });

  it('the emulator answers as Zendesk documents: its 401 body, 400 for what the description refuses, start_time a minute old, 10 exports a minute, the last minute left out', async () => {
    const get = (query: string, user = `${DOC['zendesk.email']}/token`) =>
      got(`${zd.baseUrl}/incremental/tickets/cursor?${query}`, {
        username: user,
        password: DOC['api.key'] as string,
        throwHttpErrors: false,
        responseType: 'json',
        retry: { limit: 0 },
      });
    const denied = await get('start_time=0', 'someone@else/token');
    expect([denied.statusCode, denied.body]).to.deep.equal([401, { error: "Couldn't authenticate you" }]);
    const nowSeconds = t.clock.now() / 1000;
    for (const query of ['start_time=yesterday', 'start_time=0&per_page=1000', 'start_time=0&since=1', '', 'cursor=bm9wZQ', `start_time=${nowSeconds - 59}`]) {
      const bad = await get(query);
      expect(bad.statusCode, query).to.equal(400);
      expect((bad.body as { error: string }).error).to.equal('InvalidValue');
    }
    // The description's own refusals (a type, a parameter the ticket export does not have, an unknown one).
    expect(zd.invalidRequests.map((r) => r.errors.join())).to.deep.equal([
      '/query/start_time must be integer {"type":"integer"}',
      '/query must NOT have additional properties {"additionalProperty":"per_page"}',
      '/query must NOT have additional properties {"additionalProperty":"since"}',
    ]);
    zd.invalidRequests.length = 0;
    expect((await get(`start_time=${nowSeconds - 60}`)).statusCode).to.equal(200);

    t.clock.advance(MINUTE);
    zd.tickets.upsert({ subject: 'just now', status: 'new' });
    const ok = await get('start_time=0');
    expect([ok.headers['x-rate-limit'], ok.headers['x-rate-limit-remaining']]).to.deep.equal(['10', '9']);
    const body = ok.body as { tickets: Array<{ updated_at: string }>; end_of_stream: boolean; after_url: string };
    expect(body.tickets).to.have.length(3); // the ticket of the last minute waits for the next export
    expect(body.end_of_stream).to.equal(true);
    expect(body.after_url).to.match(/cursor=/);
    expect(body.tickets[0].updated_at).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    for (let i = 2; i <= 10; i++) expect((await get('start_time=0')).statusCode).to.equal(200);
    const limited = await get('start_time=0');
    expect(limited.statusCode).to.equal(429);
    expect(Number(limited.headers['retry-after'])).to.be.within(1, 60);
  });

  it("the doc page's instance JSON creates a working instance; old records raise nothing", async () => {
    const { id } = await createFromDoc(t, 'zendesk', zd.baseUrl);
    t.clock.advance(2 * MINUTE);
    expect(await pollNow(t, id)).to.deep.equal(quietPoll('incidents', 'contacts'));
    expect(exports()[0].query).to.deep.equal({ start_time: String((t.clock.now() - 2 * MINUTE) / 1000) });
  });

  it('a poll right after the instance is created asks from a minute back: Zendesk refuses a start_time less than a minute old', async () => {
    const { id } = await createFromDoc(t, 'zendesk', zd.baseUrl);
    expect(await pollNow(t, id)).to.deep.equal(quietPoll('incidents', 'contacts'));
    expect(exports()[0].query).to.deep.equal({ start_time: String((t.clock.now() - MINUTE) / 1000) });
  });

  it("the contract check refuses what Zendesk's description refuses: the ticket export with a per_page it does not list fails the poll", async () => {
    const broken = JSON.parse(readFileSync(new URL('../../../connectors/zendesk.json', import.meta.url), 'utf8'));
    broken.key = 'zendesk-broken';
    broken.events.poller.incidents.url += '&per_page=1000';
    expect((await t.api.post('elements', { json: broken })).statusCode).to.equal(201);
    const { id } = await createFromDoc(t, 'zendesk', zd.baseUrl);
    const res = await t.api.post('instances', {
      json: { ...docInstanceJson('zendesk'), element: { key: 'zendesk-broken' }, configuration: { ...DOC, 'base.url': zd.baseUrl } },
    });
    expect(res.statusCode).to.equal(201);
    t.clock.advance(2 * MINUTE);
    expect((await pollNow(t, id)).incidents).to.include({ created: 0 });
    expect(zd.invalidRequests).to.deep.equal([]);
    const result = await pollNow(t, (res.body as unknown as { id: number }).id);
    expect(result.incidents.error).to.match(/400/);
    expect(zd.invalidRequests.map((r) => [r.request.path, r.errors.join()])).to.deep.equal([
      ['/api/v2/incremental/tickets/cursor', '/query must NOT have additional properties {"additionalProperty":"per_page"}'],
    ]);
    zd.invalidRequests.length = 0;
  });

  it('creates, updates and deletes across pages arrive once each, stopping at end_of_stream', async () => {
    const { id } = await createFromDoc(t, 'zendesk', zd.baseUrl);
    t.clock.advance(SECOND);
    for (let i = 0; i < 1050; i++) {
      zd.tickets.upsert({ subject: `new ${i}`, status: 'new' });
      if (i % 10 === 0) t.clock.advance(SECOND);
    }
    zd.tickets.update(1, { status: 'solved' });
    zd.users.upsert({ name: 'Ada', active: true });
    t.clock.advance(MINUTE + SECOND); // past the minute the export leaves out
    const first = await pollNow(t, id);
    expect(first.incidents).to.include({ fetched: 1051, created: 1050, updated: 1 });
    expect(first.contacts).to.include({ created: 1 });
    // Two pages, and no request after the one that said end_of_stream.
    expect(exports().map((r) => Object.keys(r.query))).to.deep.equal([['start_time'], ['cursor']]);

    t.clock.advance(10 * SECOND);
    zd.tickets.update(5, { status: 'open' });
    zd.tickets.update(6, { status: 'deleted' });
    zd.users.update(1, { active: false });
    t.clock.advance(MINUTE + SECOND);
    const second = await pollNow(t, id);
    expect(second.incidents).to.include({ created: 0, updated: 1, deleted: 1 });
    expect(second.contacts).to.include({ deleted: 1 });
    t.clock.advance(10 * SECOND);
    const third = await pollNow(t, id);
    expect(third.incidents).to.include({ created: 0, updated: 0, deleted: 0 });

    const events = await eventTriples(t, id);
    const incidents = events.filter((e) => e[1] === 'incidents');
    expect(incidents).to.have.length(1053);
    expect(new Set(incidents.filter((e) => e[0] === 'CREATED').map((e) => e[2])).size).to.equal(1050);
    expect(incidents.filter((e) => e[0] !== 'CREATED')).to.deep.equal([
      ['UPDATED', 'incidents', '1'],
      ['UPDATED', 'incidents', '5'],
      ['DELETED', 'incidents', '6'],
    ]);
    expect(events.filter((e) => e[1] === 'contacts')).to.deep.equal([
      ['CREATED', 'contacts', '3'],
      ['DELETED', 'contacts', '1'],
    ]);
  });

  it('429 → waits Retry-After and completes', async () => {
    const { id } = await createFromDoc(t, 'zendesk', zd.baseUrl);
    t.clock.advance(SECOND);
    zd.tickets.upsert({ subject: 'busy day', status: 'new' });
    t.clock.advance(MINUTE + SECOND);
    zd.throttleNext(2, 30);
    const result = await pollNow(t, id);
    expect(result.incidents).to.include({ created: 1 });
    expect(t.sleeps.filter((ms) => ms === 30_000)).to.have.length(2);
  });

  it('subscribes only to event types Zendesk lists (user events page): email changes arrive as identity changes, there is no user.email_changed', async () => {
    const subscriptions = t.gateway.connectors.get('zendesk')!.requests!.createWebhook.schema.body as { webhook: { subscriptions: string[] } };
    const requested = subscriptions.webhook.subscriptions;
    expect(requested.filter((s) => !isZendeskSubscription(s))).to.deep.equal([]);
    expect(requested).to.include.members([
      'zen:event-type:user.identity_created',
      'zen:event-type:user.identity_changed',
      'zen:event-type:user.identity_deleted',
    ]);
    expect(requested.every((s) => (USER_EVENT_TYPES as readonly string[]).includes(s))).to.equal(true);

    // The emulator refuses a type Zendesk does not list, as the registration of the original
    // subscription list (with user.email_changed) was refused.
    const res = await got.post(`${zd.baseUrl}/webhooks`, {
      username: `${DOC['zendesk.email']}/token`,
      password: DOC['api.key'] as string,
      json: {
        webhook: {
          name: 'x',
          endpoint: 'https://example.com/hook',
          http_method: 'POST',
          request_format: 'json',
          status: 'active',
          subscriptions: ['zen:event-type:user.email_changed'],
        },
      },
      throwHttpErrors: false,
      responseType: 'json',
      retry: { limit: 0 },
    });
    expect(res.statusCode).to.equal(400);
    expect(JSON.stringify(res.body)).to.include('unknown subscription zen:event-type:user.email_changed');
    expect(zd.webhooks.size).to.equal(0);
  });

  it('webhook mode: registers a webhook and reads its signing secret on create, verifies signatures (401 otherwise), maps user events, deregisters on delete', async () => {
    const instance = await createFromDoc(t, 'zendesk', zd.baseUrl, { 'event.vendor.type': 'webhook' });
    const [hook] = [...zd.webhooks.values()];
    expect(hook).to.include({ endpoint: instance.webhookUrl, http_method: 'POST', request_format: 'json', status: 'active' });
    expect(instance.webhookId).to.equal(hook.id);
    expect(zd.provider.requests.some((r) => r.path === `/api/v2/webhooks/${hook.id}/signing_secret`)).to.equal(true);
    const shown = (await t.api.get(`instances/${instance.id}`)).body as unknown as { configuration: Record<string, string> };
    expect(shown.configuration['webhook.secret']).to.equal('********');
    hook.endpoint = instance.hookUrl!; // the test gateway's public URL is a placeholder

    const user = zd.users.upsert({ name: 'Grace', active: true });
    expect(await zd.pushUserEvent('zen:event-type:user.created', user, 'a-guessed-secret')).to.deep.equal([401]);
    expect((await zd.pushUserEvent('zen:event-type:user.created', user))[0]).to.be.within(200, 299);
    // An email address changed: Zendesk reports it as a change of one of the user's identities.
    const changed = zd.users.update(user.id, { email: 'grace@hopper.dev' });
    expect((await zd.pushUserEvent('zen:event-type:user.identity_changed', changed))[0]).to.be.within(200, 299);
    expect((await zd.pushUserEvent('zen:event-type:user.deleted', user))[0]).to.be.within(200, 299);
    await t.gateway.webhooks.processor.tick();
    expect(await eventTriples(t, instance.id)).to.have.deep.members([
      ['CREATED', 'contacts', String(user.id)],
      ['UPDATED', 'contacts', String(user.id)],
      ['DELETED', 'contacts', String(user.id)],
    ]);

    expect((await t.api.delete(`instances/${instance.id}`)).statusCode).to.equal(200);
    expect(zd.webhooks.size).to.equal(0);
  });

  it("signatures: the gateway's HMAC check reproduces the signature of Zendesk's published example; the connector signs timestamp + body as the Webhooks page states", () => {
    const signature = t.gateway.connectors.get('zendesk')!.events!.webhook!.signature!;
    // From https://developer.zendesk.com/documentation/event-connectors/webhooks/verifying/ (its
    // NodeJS example): the only signing secret, body, timestamp and signature Zendesk publishes together.
    const secret = 'HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA=';
    const body = '{"say": "hello"}';
    const timestamp = '2021-07-25T10:00:00Z';
    const request = {
      method: 'POST',
      url: 'https://example.com/hook',
      headers: { 'x-zendesk-webhook-signature': 'tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw=', 'x-zendesk-webhook-signature-timestamp': timestamp },
      rawBody: Buffer.from(body),
    };
    const at = Date.parse(timestamp);
    // That example's values sign body then timestamp (that page's "(BODY)(TIMESTAMP)"): the same
    // header, encoding and secret with the order turned round accept it, byte for byte.
    expect(verifySignature({ ...signature, signedContent: '{body}{timestamp}' }, secret, request, at)).to.deep.equal({ ok: true });
    // The Support Webhooks page (https://developer.zendesk.com/documentation/webhooks/verifying/):
    // "base64(HMACSHA256(TIMESTAMP + BODY))" — the connector's order, which refuses the other one.
    expect(signature.signedContent).to.equal('{timestamp}{body}');
    expect(verifySignature(signature, secret, request, at)).to.deep.equal({ ok: false, reason: 'signature mismatch' });
    expect(verifySignature(signature, secret, request, at + 301_000)).to.deep.equal({ ok: false, reason: 'timestamp outside tolerance' });
  });
});
