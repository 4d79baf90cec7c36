import { expect } from 'chai';
import got from 'got';
import { Webhook } from 'standardwebhooks';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { registerConnector } from '../poller/helpers.js';

const SECRET = `whsec_${Buffer.from('a-standard-webhooks-secret-123').toString('base64')}`;
const DAY = 24 * 3600 * 1000;

const swhConnector = {
  key: 'swh',
  name: 'Standard Webhooks sender',
  hub: 'general',
  configuration: [{ key: 'webhook_secret', required: true, secret: true }],
  baseUrl: 'http://127.0.0.1:9',
  auth: { type: 'none' },
  resources: { contacts: { path: '/contacts', idField: 'id' } },
  events: {
    supported: ['webhook'],
    webhook: {
      signature: { scheme: 'standard-webhooks', secret: '<%= iparam.webhook_secret %>' },
      events: { objectType: '=contacts', objectId: '$.id', eventType: '=UPDATED' },
    },
  },
};

describe('security: webhook ingress dedupe, receipts and retention (findings 7, 14)', () => {
  let t: TestGateway;
  let hookUrl: string;
  let instanceId: number;

  beforeEach(async () => {
    t = await startGateway();
    await registerConnector(t, swhConnector);
    const res = await t.api.post('instances', {
      json: {
        element: { key: 'swh' },
        configuration: { webhook_secret: SECRET, 'event.vendor.type': 'webhook', 'event.notification.callback.url': 'http://127.0.0.1:9/callback' },
      },
    });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    const body = res.body as unknown as { id: number; webhookUrl: string };
    instanceId = body.id;
    hookUrl = body.webhookUrl.replace('http://127.0.0.1:1', t.url);
  });
  afterEach(() => t.close());

  const send = (id: string, payload: string, headers: Record<string, string> = {}) => {
    const signed = new Webhook(SECRET).sign(id, new Date(), payload);
    return got.post(hookUrl, {
      body: payload,
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': signed,
        ...headers,
      },
      throwHttpErrors: false,
      retry: { limit: 0 },
      responseType: 'json',
    });
  };
  const count = async (table: string) => Number(((await t.gateway.db(table).count({ n: '*' })) as Array<{ n: number }>)[0].n);

  it('accepts one Standard Webhooks webhook-id once: a replayed delivery is a duplicate (finding 14)', async () => {
    expect((await send('msg_1', '{"id": 1}')).body).to.deep.equal({ status: 'accepted' });
    expect((await send('msg_1', '{"id": 1}')).body).to.deep.include({ status: 'duplicate', deliveryId: 'msg_1' });
    expect((await send('msg_2', '{"id": 1}')).body).to.deep.equal({ status: 'accepted' });
    expect(await count('webhook_receipts')).to.equal(2);
  });

  it('counts a rejected request without storing it (finding 7)', async () => {
    const res = await send('msg_bad', '{"id": 1}', { 'webhook-signature': 'v1,AAAA' });
    expect(res.statusCode).to.equal(401);
    expect(await count('webhook_receipts')).to.equal(0);
    const metrics = t.gateway.ctx.metrics.registry.getSingleMetricAsString('pollgate_webhooks_received_total');
    expect(await metrics).to.match(/status="401"} 1/);
  });

  it('lists receipts without bodies and answers one receipt with its body (finding 7)', async () => {
    await send('msg_big', JSON.stringify({ id: 1, padding: 'x'.repeat(100_000) }));
    const list = await t.api.get(`instances/${instanceId}/webhooks/receipts?pageSize=500`);
    const [receipt] = list.body as unknown as Array<Record<string, unknown>>;
    expect(receipt).not.to.have.property('body');
    expect(list.rawBody.length).to.be.below(2000);
    const one = await t.api.get(`instances/${instanceId}/webhooks/receipts/${receipt.id}`);
    expect(one.statusCode).to.equal(200);
    expect((one.body as unknown as { body: string }).body).to.have.length.above(100_000);
    expect((await t.api.get(`instances/${instanceId}/webhooks/receipts/99999`)).statusCode).to.equal(404);
  });

  it('the maintenance job deletes finished receipts, events and request log entries past retention, and nothing else (finding 7)', async () => {
    await send('msg_old', '{"id": 1}');
    expect(await t.gateway.webhooks.processor.tick()).to.equal(1);
    await send('msg_pending', '{"id": 2}'); // stays pending: not mapped yet
    await t.gateway.db('request_log').insert({
      instance_id: instanceId,
      template: 'x',
      method: 'GET',
      url: 'http://127.0.0.1:9/x',
      status: 200,
      attempts: 1,
      duration_ms: 1,
      at: t.clock.now(),
    });
    const before = { receipts: await count('webhook_receipts'), events: await count('events'), log: await count('request_log') };
    expect(before.receipts).to.equal(2);
    expect(before.events).to.equal(1);

    const prune = () => t.gateway.retention.prune();
    expect(await prune()).to.deep.equal({ notifications: 0, events: 0, webhookReceipts: 0, requestLog: 0, snapshots: 0, connectSessions: 0 });
    t.clock.advance(31 * DAY);
    const result = await prune();
    expect(result.webhookReceipts).to.equal(1); // the processed one; the pending one stays
    expect(await count('webhook_receipts')).to.equal(1);
    expect((await t.gateway.db('webhook_receipts').first('status')).status).to.equal('pending');
    expect(result.requestLog).to.equal(before.log);
    // The event's notification is not delivered yet (delivery is off here): kept until it is.
    expect(result.events).to.equal(0);
    await t.gateway.db('notifications').update({ status: 'delivered', delivered_at: t.clock.now() });
    expect((await prune()).events).to.equal(1);
  });
});
