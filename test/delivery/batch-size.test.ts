import { expect } from 'chai';
import { instanceCount, startGateway, type TestGateway } from '../helpers/gateway.js';
import { SandboxProvider } from '../../sandbox/sandbox.js';
import { Receiver } from '../providers/receiver.js';
import { contactsBody, createWebhookInstance, postSigned } from '../webhooks/helpers.js';

/**
 * `event.notification.maxBatchSize`: an instance may carry more events in one notification than
 * the gateway's `delivery.maxEventsPerNotification` (fewer sends when many change at once), up to
 * 1,000; anything else is a 400 naming the key, and nothing is stored.
 */
describe('events per notification, per instance (event.notification.maxBatchSize)', () => {
  let t: TestGateway;
  let sandbox: SandboxProvider;
  let receiver: Receiver;

  beforeEach(async () => {
    t = await startGateway();
    sandbox = await SandboxProvider.start();
    receiver = await Receiver.start();
  });

  afterEach(async () => {
    await t.close();
    await sandbox.close();
    await receiver.close();
  });

  it('120 events pushed at once go out as notifications of at most 50, each send carrying its events', async () => {
    const instance = await createWebhookInstance(t, sandbox, {
      'event.notification.callback.url': `${receiver.url}/cb`,
      'event.notification.maxBatchSize': 50,
    });
    expect((await postSigned(instance.hookUrl, contactsBody(120))).statusCode).to.equal(202);
    await t.gateway.webhooks.processor.tick();
    const counts = await t.gateway.db('notifications').orderBy('id').pluck('event_count');
    expect([...counts].sort((a, b) => b - a)).to.deep.equal([50, 50, 20]);
    await t.gateway.delivery.dispatcher.drain();
    const sizes = receiver.received.map((r) => (r.body as { events: unknown[] }).events.length).sort((a, b) => b - a);
    expect(sizes).to.deep.equal([50, 50, 20]);
  });

  it('without it, the gateway setting applies (20 for webhooks)', async () => {
    const instance = await createWebhookInstance(t, sandbox, { 'event.notification.callback.url': `${receiver.url}/cb` });
    expect((await postSigned(instance.hookUrl, contactsBody(45))).statusCode).to.equal(202);
    await t.gateway.webhooks.processor.tick();
    const counts = await t.gateway.db('notifications').pluck('event_count');
    expect([...counts].sort((a, b) => b - a)).to.deep.equal([20, 20, 5]);
  });

  for (const bad of [0, 1001, 2.5, 'many', -3]) {
    it(`refuses ${JSON.stringify(bad)} with a 400 naming the key, and stores no instance`, async () => {
      const res = await t.api.post('instances', {
        json: {
          element: { key: 'sandbox' },
          name: 'bad batch',
          configuration: {
            base_url: sandbox.url,
            api_key: 'k',
            'event.notification.callback.url': `${receiver.url}/cb`,
            'event.notification.maxBatchSize': bad,
          },
        },
      });
      expect(res.statusCode).to.equal(400);
      expect(JSON.stringify(res.body)).to.include('event.notification.maxBatchSize');
      expect(await instanceCount(t)).to.equal(0);
    });
  }
});
