import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { SandboxProvider } from '../../sandbox/sandbox.js';
import { listEvents } from '../poller/helpers.js';
import { contactsBody, createWebhookInstance, postSigned } from './helpers.js';

/**
 * Large webhook bodies: a bound on the items of one request (`webhooks.maxItemsPerBody`), and a
 * body within it stored once — on its receipt — with each notification carrying only its own
 * events' items as `raw`.
 */
describe('webhook bodies: item limit and raw stored once', () => {
  let t: TestGateway;
  let sandbox: SandboxProvider;

  beforeEach(async () => {
    t = await startGateway();
    sandbox = await SandboxProvider.start();
  });

  afterEach(async () => {
    await t.close();
    await sandbox.close();
  });

  const receipts = async (id: number) => (await t.api.get(`instances/${id}/webhooks/receipts`)).body as unknown as unknown[];

  it('refuses a body of more items than webhooks.maxItemsPerBody with 413 naming the limit and the count, and stores nothing', async () => {
    const { id, hookUrl } = await createWebhookInstance(t, sandbox);
    const res = await postSigned(hookUrl, contactsBody(1001));
    expect(res.statusCode).to.equal(413);
    const error = JSON.parse(res.body) as { code: string; message: string; details: unknown[] };
    expect(error.code).to.equal('PAYLOAD_TOO_LARGE');
    expect(error.message).to.equal(
      'the webhook body holds 1001 items at $.events[*]; at most 1000 are accepted in one request (webhooks.maxItemsPerBody): send them in smaller batches',
    );
    expect(error.details).to.deep.equal([{ field: 'items', count: 1001, limit: 1000 }]);
    expect(await receipts(id)).to.have.length(0);
    expect(await t.gateway.webhooks.processor.tick()).to.equal(0);
    expect(await listEvents(t, id)).to.have.length(0);
    expect(await t.gateway.ctx.metrics.registry.getSingleMetricAsString('pollgate_webhooks_received_total')).to.include('status="413"} 1');

    // At the limit (the default) it is accepted.
    expect(t.config.webhooks.maxItemsPerBody).to.equal(1000);
    expect((await postSigned(hookUrl, contactsBody(1000))).statusCode).to.equal(202);
    expect(await receipts(id)).to.have.length(1);
  });

  it('a large body within the limit is stored once: its notifications carry their own items as raw, not the body each', async () => {
    const { id, hookUrl } = await createWebhookInstance(t, sandbox, { 'event.notification.callback.url': 'http://127.0.0.1:9/cb' });
    const body = contactsBody(1000, 400);
    expect(body.length).to.be.greaterThan(450_000);
    expect((await postSigned(hookUrl, body)).statusCode).to.equal(202);
    expect(await t.gateway.webhooks.processor.tick()).to.equal(1);

    // 1000 events, 20 per notification. Everything stored for this body — the receipt, the events'
    // items, the 50 notifications — is a small multiple of it (a copy of the body per
    // notification was 50 times it).
    const notifications = (await t.api.get(`instances/${id}/notifications?pageSize=500`)).body as unknown as Array<{ id: string; eventCount: number }>;
    expect(notifications).to.have.length(50);
    expect(notifications.reduce((n, x) => n + x.eventCount, 0)).to.equal(1000);
    const stored = async (table: string, column: string) => Number((await t.gateway.db(table).sum({ n: t.gateway.db.raw(`length(${column})`) }))[0].n);
    const payloads = await stored('notifications', 'payload');
    const total = payloads + (await stored('events', 'raw')) + (await stored('webhook_receipts', 'body'));
    expect(payloads).to.be.below(body.length / 2);
    expect(total).to.be.below(body.length * 3);

    // As sent: the notification's own items, keyed by object type in the order of its events, and
    // the receipt that holds the whole body.
    const items = (JSON.parse(body) as { events: Array<{ record: { id: number } }> }).events;
    const shown = (await t.api.get(`notifications/${notifications[0].id}`)).body as unknown as {
      payload: { raw: { contacts: typeof items }; events: Array<{ objectId: string }>; receiptId: number };
    };
    const { raw, events, receiptId } = shown.payload;
    expect(Object.keys(raw)).to.deep.equal(['contacts']);
    expect(raw.contacts).to.have.length(20);
    expect(raw.contacts.map((item) => String(item.record.id))).to.deep.equal(events.map((e) => e.objectId));
    expect(raw.contacts[0]).to.deep.equal(items[Number(events[0].objectId) - 1]);
    const receipt = (await t.api.get(`instances/${id}/webhooks/receipts/${receiptId}`)).body as unknown as { body: string; eventsCount: number };
    expect(receipt).to.include({ body, eventsCount: 1000 });
  });
});
