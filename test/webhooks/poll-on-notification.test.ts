import { expect } from 'chai';
import got from 'got';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { CONTACTS_SINCE, PROVIDER_DATES, providerConnector, registerConnector } from '../poller/helpers.js';

/**
 * Thin notifications on their own (docs/connectors.md "Thin notifications that poll"): a webhook
 * that only says something changed — no body — has its signature checked and makes the named poller
 * objects due now; the poller's next tick polls them; nothing is stored as a receipt.
 */
const TOKEN = 'channel-token-123456';

const thinConnector = (pollOnNotification: string[]) =>
  providerConnector('thin', {
    configuration: [
      { key: 'base_url', required: true },
      { key: 'api_key', required: true, secret: true },
      { key: 'channel_token', required: true, secret: true },
    ],
    events: {
      supported: ['polling', 'webhook'],
      poller: {
        contacts: { url: CONTACTS_SINCE, idField: 'id', datesConfiguration: PROVIDER_DATES },
        tickets: { url: '/tickets', idField: 'id' },
      },
      webhook: { signature: { scheme: 'shared-secret', header: 'X-Channel-Token', secret: '<%= iparam.channel_token %>' }, pollOnNotification },
    },
  } as never);

describe('webhooks: thin notifications that poll', () => {
  let provider: EmulatedProvider;
  let t: TestGateway;

  beforeEach(async () => {
    provider = await EmulatedProvider.start();
    t = await startGateway();
    provider.now = () => t.clock.now();
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
  });

  it('a notification with the right token makes the named objects due now (only those); another token is refused; nothing is stored', async () => {
    await registerConnector(t, thinConnector(['contacts']));
    const res = await t.api.post('instances', {
      json: {
        element: { key: 'thin' },
        name: 'thin',
        configuration: {
          base_url: provider.url,
          api_key: 'k',
          channel_token: TOKEN,
          'event.vendor.type': 'webhook',
          'event.poller.refresh_interval': '60',
        },
      },
    });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    const { id, webhookUrl } = res.body as unknown as { id: number; webhookUrl: string };
    const hook = webhookUrl.replace('http://127.0.0.1:1', t.url);
    const poller = t.gateway.poller;
    expect(await poller.tick()).to.equal(0);

    const forged = await got.post(hook, { headers: { 'X-Channel-Token': 'guess' }, throwHttpErrors: false, retry: { limit: 0 } });
    expect(forged.statusCode).to.equal(401);
    expect(await poller.tick()).to.equal(0);

    provider.collection('contacts').upsert({ name: 'changed' });
    const ok = await got.post(hook, { headers: { 'X-Channel-Token': TOKEN }, throwHttpErrors: false, retry: { limit: 0 } });
    expect(ok.statusCode).to.equal(202);
    expect(JSON.parse(ok.body)).to.deep.equal({ status: 'polling', objects: ['contacts'] });
    // Only contacts is due: tickets waits for its interval.
    expect(await poller.tick()).to.equal(1);
    await poller.idle();
    expect(provider.requests.filter((r) => r.path === '/contacts')).to.have.length(1);
    expect(provider.requests.filter((r) => r.path === '/tickets')).to.have.length(0);
    const stored = await t.gateway.db('webhook_receipts').where({ instance_id: id }).count({ n: '*' });
    expect(Number(stored[0].n)).to.equal(0);
  });

  it('a notification that comes while the object is being polled polls it again after that poll', async () => {
    await registerConnector(t, thinConnector(['contacts']));
    const res = await t.api.post('instances', {
      json: {
        element: { key: 'thin' },
        name: 'thin',
        configuration: { base_url: provider.url, api_key: 'k', channel_token: TOKEN, 'event.vendor.type': 'webhook', 'event.poller.refresh_interval': '60' },
      },
    });
    const hook = (res.body as unknown as { webhookUrl: string }).webhookUrl.replace('http://127.0.0.1:1', t.url);
    const notify = () => got.post(hook, { headers: { 'X-Channel-Token': TOKEN }, throwHttpErrors: false, retry: { limit: 0 } });
    const poller = t.gateway.poller;
    provider.collection('contacts').upsert({ name: 'first' });
    expect((await notify()).statusCode).to.equal(202);
    provider.delayNext(1, 200, { path: '/contacts' });
    expect(await poller.tick()).to.equal(1);
    // The poll waits for its listing; a change is notified meanwhile.
    for (let i = 0; i < 100 && provider.inFlight('contacts') === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(provider.inFlight('contacts')).to.equal(1);
    t.clock.advance(1);
    expect((await notify()).statusCode).to.equal(202);
    await poller.idle();
    expect(await poller.tick()).to.equal(1);
    await poller.idle();
    expect(provider.requests.filter((r) => r.path === '/contacts')).to.have.length(2);
    // Without another notification: nothing more.
    expect(await poller.tick()).to.equal(0);
  });

  it('refuses at load a pollOnNotification naming an object the poller does not have', async () => {
    const res = await t.api.post('elements', { json: thinConnector(['contacts', 'deals']) });
    expect(res.statusCode).to.equal(400);
    expect((res.body as unknown as { details: unknown[] }).details).to.deep.include({
      field: '/events/webhook/pollOnNotification/1',
      message: 'names "deals", which is not an object of events.poller',
    });
  });
});
