import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import got from 'got';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { Receiver } from '../providers/receiver.js';
import { SandboxProvider } from '../../sandbox/sandbox.js';
import { createInstance, pollNow, providerConnector, registerConnector } from '../poller/helpers.js';
import { dispatcher } from './helpers.js';

/** What a callback carries: bodiless methods, the raw records on inspection, Freshworks' webhook fields. */
describe('callback methods and payload fields', () => {
  let t: TestGateway;
  let receiver: Receiver;

  beforeEach(async () => {
    t = await startGateway();
    receiver = await Receiver.start();
  });

  afterEach(async () => {
    await t.close();
    await receiver.close();
  });

  describe('with a polled provider', () => {
    let provider: EmulatedProvider;

    beforeEach(async () => {
      provider = await EmulatedProvider.start();
      provider.now = () => t.clock.now();
      await registerConnector(t, providerConnector('crm'));
    });

    afterEach(() => provider.close());

    async function pollTwoNewContacts(configuration: Record<string, unknown>) {
      const { id } = await createInstance(t, 'crm', provider.url, configuration);
      t.clock.advance(60_000);
      provider.collection('contacts').upsert({ name: 'Ada' });
      provider.collection('contacts').upsert({ name: 'Grace' });
      await pollNow(t, id);
      await dispatcher(t).drain();
      return id;
    }

    for (const method of ['GET', 'DELETE']) {
      it(`sends ${method} callbacks without a body, one per event, with tags in the URL`, async () => {
        await pollTwoNewContacts({
          'event.notification.callback.url': `${receiver.url}/objects/<%= event.objectType %>/<%= event.objectId %>?change=<%= event.eventType %>`,
          'event.notification.callback.method': method.toLowerCase(),
        });
        const requests = await receiver.waitFor(2);
        expect(requests.map((r) => [r.method, r.path, r.raw.length])).to.deep.equal([
          [method, '/objects/contacts/1?change=CREATED', 0],
          [method, '/objects/contacts/2?change=CREATED', 0],
        ]);
        expect(requests[0].headers).not.to.have.property('content-type');
        expect(requests[0].headers['webhook-signature']).to.match(/^v1,/);
        const [n] = await t.gateway.db('notifications').select('id');
        expect(((await t.api.get(`notifications/${n.id}`)).body as unknown as { status: string }).status).to.equal('delivered');
        // A body template has nothing to do on a bodiless method: refused, naming the key.
        const withTemplate = await t.api.post('instances', {
          json: {
            element: { key: 'crm' },
            configuration: {
              base_url: provider.url,
              api_key: 'k',
              'event.notification.callback.url': `${receiver.url}/x`,
              'event.notification.callback.method': method,
              'event.notification.callback.template': '{"id": "<%= event.objectId %>"}',
            },
          },
        });
        expect(withTemplate.statusCode).to.equal(400);
        expect((withTemplate.body as unknown as { details: unknown[] }).details).to.deep.equal([
          {
            field: 'event.notification.callback.template',
            message: `builds a request body, and ${method} callbacks send none: put the tags in the callback URL`,
          },
        ]);
      });
    }

    it('GET /notifications/:id shows the payload as sent, raw records included', async () => {
      await pollTwoNewContacts({ 'event.notification.callback.url': `${receiver.url}/hook` });
      const [sent] = await receiver.waitFor(1);
      const [n] = await t.gateway.db('notifications').select('id');
      const shown = (await t.api.get(`notifications/${n.id}`)).body as unknown as { payload: { raw: { contacts: Array<{ name: string }> } } };
      expect(shown.payload.raw.contacts.map((c) => c.name)).to.deep.equal(['Ada', 'Grace']);
      expect(shown.payload).to.deep.equal(sent.body);
    });
  });

  it('webhook-mode notifications carry the epoch timestamp (ms) and the request headers, secrets redacted', async () => {
    const secret = 'whk-secret-123';
    const sandbox = await SandboxProvider.start();
    try {
      const res = await t.api.post('instances', {
        json: {
          element: { key: 'sandbox' },
          configuration: {
            base_url: sandbox.url,
            api_key: 'k',
            webhook_secret: secret,
            'event.vendor.type': 'webhook',
            'event.notification.callback.url': `${receiver.url}/hook`,
          },
        },
      });
      expect(res.statusCode).to.equal(201);
      const hookUrl = (res.body as unknown as { webhookUrl: string }).webhookUrl.replace('http://127.0.0.1:1', t.url);
      const body = JSON.stringify({ events: [{ collection: 'tickets', action: 'created', record: { id: 9 }, at: '2026-11-24T10:00:00Z' }] });
      const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
      const receivedAt = t.clock.now();
      const posted = await got.post(hookUrl, {
        body,
        headers: { 'content-type': 'application/json', 'x-sandbox-signature': signature, 'x-request-source': 'test' },
        throwHttpErrors: false,
      });
      expect(posted.statusCode).to.equal(202);
      await t.gateway.webhooks.processor.tick();
      await dispatcher(t).drain();
      const [sent] = await receiver.waitFor(1);
      const payload = sent.body as { timestamp: number; headers: Record<string, string>; raw: unknown; events: unknown[]; receiptId: number };
      expect(payload.timestamp).to.equal(receivedAt);
      expect(payload.headers).to.deep.include({ 'content-type': 'application/json', 'x-request-source': 'test', 'x-sandbox-signature': '********' });
      expect(JSON.stringify(payload)).not.to.include(signature);
      // The Cloud Elements shape stays: events and, as raw, their items keyed by object type; the
      // provider's whole body is on the receipt the payload names.
      expect(payload.raw).to.deep.equal({ tickets: JSON.parse(body).events });
      expect(payload.events).to.have.length(1);
      const instanceId = (res.body as unknown as { id: number }).id;
      const receipt = (await t.api.get(`instances/${instanceId}/webhooks/receipts/${payload.receiptId}`)).body as unknown as { body: string };
      expect(receipt.body).to.equal(body);
    } finally {
      await sandbox.close();
    }
  });
});
