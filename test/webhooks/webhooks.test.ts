import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { SandboxProvider } from '../../sandbox/sandbox.js';
import { CONTACTS_SINCE, PROVIDER_DATES, listEvents, pollNow } from '../poller/helpers.js';
import { SECRET, createWebhookInstance as createFor, post, sign } from './helpers.js';

describe('webhook mode end to end', () => {
  let t: TestGateway;
  let sandbox: SandboxProvider;

  beforeEach(async () => {
    t = await startGateway();
    sandbox = await SandboxProvider.start();
    sandbox.provider.now = () => t.clock.now();
  });

  afterEach(async () => {
    await sandbox.flush();
    await t.close();
    await sandbox.close();
  });

  const processor = () => t.gateway.webhooks.processor;

  const createWebhookInstance = (configuration: Record<string, unknown> = {}) => createFor(t, sandbox, configuration);

  it('registers with the provider, maps pushed changes to events, and deregisters on DELETE', async () => {
    const instance = await createWebhookInstance();
    expect(instance.webhookUrl).to.match(/^http:\/\/127\.0\.0\.1:1\/hooks\/[A-Za-z0-9_-]{32}$/);
    const [sub] = [...sandbox.subscriptions.values()];
    expect(sub.url).to.equal(instance.hookUrl);
    expect(sub.secret).to.equal(SECRET);
    expect(instance.webhookId).to.equal(sub.id);
    expect(JSON.stringify(instance)).not.to.include(SECRET);

    sandbox.pushWebhooks = true;
    sandbox.provider.collection('contacts').upsert({ name: 'Pushed' });
    await sandbox.flush();
    sandbox.provider.collection('contacts').update(1, { name: 'Edited' });
    await sandbox.flush();
    expect(await processor().tick()).to.equal(2);
    const events = await listEvents(t, instance.id);
    expect(events.map((e) => [e.eventType, e.objectType, e.objectId])).to.deep.equal([
      ['UPDATED', 'contacts', '1'],
      ['CREATED', 'contacts', '4'],
    ]);
    const receipts = (await t.api.get(`instances/${instance.id}/webhooks/receipts`)).body as unknown as Array<{
      verified: boolean;
      status: string;
      eventsCount: number;
      headers: Record<string, string>;
    }>;
    expect(receipts).to.have.length(2);
    expect(receipts[0]).to.include({ verified: true, status: 'processed', eventsCount: 1 });
    expect(receipts[0].headers['x-sandbox-signature']).to.equal('********');

    expect((await t.api.delete(`instances/${instance.id}`)).statusCode).to.equal(200);
    expect(sandbox.subscriptions.size).to.equal(0);
    expect(sandbox.provider.requests.some((r) => r.method === 'DELETE' && r.path === `/webhooks/${sub.id}`)).to.equal(true);
  });

  it('a failing registration fails the create with the provider answer and leaves no instance', async () => {
    sandbox.provider.failNext(3, { status: 422, body: { error: 'url not reachable' } }, { path: '/webhooks' });
    const res = await t.api.post('instances', {
      json: { element: { key: 'sandbox' }, configuration: { base_url: sandbox.url, api_key: 'k', 'event.vendor.type': 'webhook' } },
    });
    expect(res.statusCode).to.equal(502);
    expect(JSON.stringify(res.body)).to.include('url not reachable');
    expect((await t.api.get('instances')).body).to.deep.equal([]);
  });

  it('a registration answered without a webhook id fails the create (it could never be deregistered) and leaves no instance', async () => {
    sandbox.provider.route('POST', '/webhooks', () => ({ status: 201, body: { url: 'accepted' } }));
    const res = await t.api.post('instances', {
      json: { element: { key: 'sandbox' }, configuration: { base_url: sandbox.url, api_key: 'k', 'event.vendor.type': 'webhook' } },
    });
    expect(res.statusCode).to.equal(502);
    const error = res.body as unknown as { code: string; message: string; details: Array<Record<string, unknown>> };
    expect(error.code).to.equal('WEBHOOK_REGISTRATION_FAILED');
    expect(error.message).to.equal(
      "the provider's answer to the webhook registration carries no webhook id at $.id, so it could never be deregistered: the instance is not created (a subscription the provider made anyway is unknown to pollgate: remove it at the provider)",
    );
    expect(error.details).to.deep.equal([{ registration: 'default', status: 201, response: '{"url":"accepted"}' }]);
    expect((await t.api.get('instances')).body).to.deep.equal([]);
  });

  it('a failed deregistration is reported and retried', async () => {
    const instance = await createWebhookInstance();
    sandbox.provider.failNext(3, { status: 503, body: {} }, { path: '/webhooks' });
    expect((await t.api.delete(`instances/${instance.id}`)).statusCode).to.equal(200);
    expect(sandbox.subscriptions.size).to.equal(1);
    const [pending] = await t.gateway.db('webhook_deregistrations').select();
    expect(pending.last_error).to.match(/503/);
    t.clock.advance(2 * 60_000);
    await processor().tick();
    expect(sandbox.subscriptions.size).to.equal(0);
    expect(await t.gateway.db('webhook_deregistrations').select()).to.have.length(0);
  });

  it('refuses bad signatures (401), unknown tokens (404), large bodies (413), other types (415) and dedupes delivery ids', async () => {
    const { id, hookUrl } = await createWebhookInstance();
    const body = JSON.stringify({ events: [{ collection: 'tickets', action: 'created', record: { id: 9, subject: 's' }, at: '2026-11-24T10:00:00Z' }] });
    const good = { 'content-type': 'application/json', 'x-sandbox-signature': sign(body), 'x-sandbox-delivery': 'd-1' };
    expect((await post(hookUrl, body, { ...good, 'x-sandbox-signature': sign(body + ' ') })).statusCode).to.equal(401);
    expect((await post(hookUrl, body, { 'content-type': 'application/json' })).statusCode).to.equal(401);
    expect((await post(hookUrl.replace(/hooks\/.*/, 'hooks/' + 'x'.repeat(32)), body, good)).statusCode).to.equal(404);
    expect((await post(hookUrl, body, { ...good, 'content-type': 'text/plain' })).statusCode).to.equal(415);
    const huge = 'x'.repeat(t.config.webhooks.maxBodyBytes + 1);
    expect((await post(hookUrl, huge, { ...good, 'x-sandbox-signature': sign(huge) })).statusCode).to.equal(413);
    const malformed = '{"events": [';
    expect((await post(hookUrl, malformed, { ...good, 'x-sandbox-signature': sign(malformed) })).statusCode).to.equal(400);

    const first = await post(hookUrl, body, good);
    expect(first.statusCode).to.equal(202);
    const again = await post(hookUrl, body, good);
    expect(again.statusCode).to.equal(202);
    expect(JSON.parse(again.body)).to.include({ status: 'duplicate' });
    await processor().tick();
    expect(await listEvents(t, id)).to.have.length(1);
  });

  it('answers 429 with Retry-After past the per-instance rate', async () => {
    const { hookUrl } = await createWebhookInstance();
    const body = JSON.stringify({ events: [] });
    const headers = { 'content-type': 'application/json', 'x-sandbox-signature': sign(body) };
    const statuses: number[] = [];
    for (let i = 0; i < 251; i++) statuses.push((await post(hookUrl, body, headers)).statusCode);
    expect(statuses.slice(0, 250).every((s) => s === 202)).to.equal(true);
    const last = await post(hookUrl, body, headers);
    expect(statuses[250]).to.equal(429);
    expect(Number(last.headers['retry-after'])).to.be.within(1, 60);
    t.clock.advance(60_000);
    expect((await post(hookUrl, body, headers)).statusCode).to.equal(202);
  });

  it('reconciliation: the safety-net poll does not raise what a webhook already raised', async () => {
    const { id } = await createWebhookInstance({ 'event.poller.refresh_interval': '5' });
    sandbox.pushWebhooks = true;
    t.clock.advance(60_000);
    sandbox.provider.collection('tickets').upsert({ subject: 'via webhook' });
    await sandbox.flush();
    await processor().tick();
    expect(await listEvents(t, id)).to.have.length(1);
    t.clock.advance(60_000);
    const polled = await pollNow(t, id);
    expect(polled.tickets).to.include({ fetched: 1, created: 0, updated: 0 });
    sandbox.pushWebhooks = false;
    sandbox.provider.collection('tickets').update(3, { subject: 'changed while webhooks were down' });
    t.clock.advance(60_000);
    expect((await pollNow(t, id)).tickets).to.include({ updated: 1 });
    expect(await listEvents(t, id)).to.have.length(2);
  });

  it('safety-net full listings: old records raise nothing, a deletion seen by webhook is not raised again', async () => {
    const { id } = await createWebhookInstance({
      'event.poller.refresh_interval': '5',
      'event.poller.configuration': { contacts: { url: CONTACTS_SINCE, idField: 'id', deletes: true, datesConfiguration: PROVIDER_DATES } },
    });
    // Past poller.fullListingIntervalMinutes (60): every poll after the first is a full listing.
    const poll = async () => {
      t.clock.advance(61 * 60_000);
      return (await pollNow(t, id)).contacts;
    };
    // The sandbox's three contacts date from 2020: the safety net's listings raise nothing.
    expect(await poll()).to.include({ fetched: 0 });
    expect(await poll()).to.include({ fetched: 3, created: 0, updated: 0, deleted: 0 });
    expect(await poll()).to.include({ fetched: 3, created: 0, updated: 0, deleted: 0 });
    expect(await listEvents(t, id)).to.have.length(0);

    // A deletion pushed by webhook is raised once: the listings find nothing left to delete; one
    // the webhooks missed is found by the listings, after two of them.
    sandbox.pushWebhooks = true;
    sandbox.provider.collection('contacts').remove(1);
    await sandbox.flush();
    await processor().tick();
    sandbox.pushWebhooks = false;
    sandbox.provider.collection('contacts').remove(2);
    const deleted = [(await poll()).deleted, (await poll()).deleted, (await poll()).deleted];
    expect(deleted).to.deep.equal([0, 1, 0]);
    expect((await listEvents(t, id)).map((e) => `${e.eventType} ${e.objectId}`).sort()).to.deep.equal(['DELETED 1', 'DELETED 2']);
  });

  it('a crash after the 202 and before mapping still produces the events after restart', async () => {
    const { id, hookUrl } = await createWebhookInstance();
    const body = JSON.stringify({ events: [{ collection: 'contacts', action: 'updated', record: { id: 2, name: 'n' }, at: '2026-11-24T10:00:00Z' }] });
    expect((await post(hookUrl, body, { 'content-type': 'application/json', 'x-sandbox-signature': sign(body) })).statusCode).to.equal(202);
    // Stop without mapping (processor never ran), then start a new gateway on the same database.
    const { dataDir, schema } = t;
    await t.gateway.stop();
    const restarted = await startGateway({ dataDir, schema, clock: t.clock });
    try {
      await restarted.gateway.webhooks.processor.tick();
      expect((await listEvents(restarted, id)).map((e) => [e.eventType, e.objectId])).to.deep.equal([['UPDATED', '2']]);
    } finally {
      await restarted.close();
    }
  });
});
