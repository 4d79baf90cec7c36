import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import got from 'got';
import { ManualClock } from '../../../src/clock.js';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { listEvents, pollNow } from '../../poller/helpers.js';
import { createFromDoc, docInstanceJson } from '../catalog.js';
import { ShopifyProvider } from './shopify.js';

const doc = docInstanceJson('shopify');
const TOKEN = String(doc.configuration['api.key']);
const VERSION = String(doc.configuration['shopify.api.version']);
const CLIENT_SECRET = 'shpss_0example0client0secret';

describe('shopify connector against the emulated Shopify Admin REST API', () => {
  let t: TestGateway;
  let shopify: ShopifyProvider;
  const sleeps: number[] = [];

  beforeEach(async () => {
    sleeps.length = 0;
    // Waits pass on the manual clock, so the emulated bucket drains while pollgate waits.
    const clock = new ManualClock();
    t = await startGateway({ clock, options: { sleep: async (ms: number) => void (sleeps.push(ms), clock.advance(ms)) } });
    shopify = await ShopifyProvider.start({
      shop: String(doc.configuration['shopify.shop']),
      version: VERSION,
      accessToken: TOKEN,
      clientSecret: CLIENT_SECRET,
    });
    shopify.now = () => t.clock.now();
  });

  afterEach(async () => {
    await t.close();
    await shopify.close();
  });

  const createInstance = (extra: Record<string, unknown> = {}) => createFromDoc(t, 'shopify', shopify.url, extra);
  const listings = (resource: string) => shopify.provider.requests.filter((r) => r.path === `/admin/api/${VERSION}/${resource}.json`);

  it('polls with updated_at_min and follows page_info links that carry only page_info and limit', async () => {
    const { id } = await createInstance();
    t.clock.advance(60_000);
    for (let i = 0; i < 520; i++) await shopify.create('orders', { email: `o${i}@example.com`, financial_status: 'paid' });
    await shopify.create('customers', { email: 'ada@example.com' });
    const first = await pollNow(t, id);
    expect(first.orders).to.include({ fetched: 520, created: 520 });
    expect(first.customers).to.include({ created: 1 });
    expect(first.products).to.include({ fetched: 0 });
    const pages = listings('orders');
    expect(pages).to.have.length(3);
    expect(pages[0].query).to.deep.equal({
      status: 'any',
      updated_at_min: new Date(t.clock.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      limit: '250',
    });
    expect(pages[0].headers['x-shopify-access-token']).to.equal(TOKEN);
    expect(Object.keys(pages[1].query).sort()).to.deep.equal(['limit', 'page_info']);

    t.clock.advance(5 * 60_000);
    const order = await shopify.update('orders', 450789470, { financial_status: 'refunded' });
    expect((await pollNow(t, id)).orders).to.include({ updated: 1 });
    const [latest] = await listEvents(t, id);
    expect(latest).to.include({ eventType: 'UPDATED', objectType: 'orders', objectId: String(order.id) });
  });

  it('paces calls by X-Shopify-Shop-Api-Call-Limit so the leaky bucket never overflows', async () => {
    const { id } = await createInstance();
    t.clock.advance(60_000);
    for (let i = 0; i < 600; i++) await shopify.create('products', { title: `p${i}` });
    shopify.setBucket(37);
    const summary = await pollNow(t, id);
    expect(summary.products).to.include({ created: 600 });
    expect(shopify.throttled).to.equal(0);
    expect(sleeps.length).to.be.greaterThan(0);
    expect(sleeps.every((ms) => ms <= 1500)).to.equal(true);
  });

  it('retries a 429 after Retry-After', async () => {
    const { id } = await createInstance();
    t.clock.advance(60_000);
    await shopify.create('customers', { email: 'a@example.com' });
    shopify.provider.failNext(
      1,
      { status: 429, headers: { 'retry-after': '2.0' }, body: { errors: 'Exceeded 2 calls per second for api client.' } },
      { path: `/admin/api/${VERSION}/customers.json` },
    );
    expect((await pollNow(t, id)).customers).to.include({ created: 1 });
    expect(sleeps).to.include(2000);
  });

  it('webhook mode: one webhook per topic, X-Shopify-Hmac-Sha256, dedupe on X-Shopify-Event-Id, topic → object and event type, all deleted', async () => {
    const created = await createInstance({ 'event.vendor.type': 'webhook', 'webhook.secret': CLIENT_SECRET });
    expect([...shopify.webhooks.values()].map((w) => w.topic).sort()).to.deep.equal([
      'customers/create',
      'customers/delete',
      'customers/update',
      'orders/create',
      'orders/delete',
      'orders/updated',
      'products/create',
      'products/delete',
      'products/update',
    ]);
    for (const hook of shopify.webhooks.values()) {
      expect(hook.address).to.equal(created.webhookUrl);
      hook.address = hook.address.replace('http://127.0.0.1:1', t.url);
    }

    const order = await shopify.create('orders', { email: 'ada@example.com' });
    await shopify.update('orders', order.id, { financial_status: 'paid' });
    const customer = await shopify.create('customers', { email: 'bob@example.com' });
    await shopify.remove('customers', customer.id);
    expect(shopify.deliveries.map((d) => d.status)).to.deep.equal([202, 202, 202, 202]);

    const [first] = shopify.deliveries;
    const again = await got.post(created.webhookUrl!.replace('http://127.0.0.1:1', t.url), {
      body: first.body,
      headers: { ...first.headers, 'x-shopify-webhook-id': 'retry' },
      throwHttpErrors: false,
    });
    expect(JSON.parse(again.body)).to.include({ status: 'duplicate' });
    const forged = {
      ...first.headers,
      'x-shopify-event-id': 'other',
      'x-shopify-hmac-sha256': createHmac('sha256', 'wrong').update(first.body).digest('base64'),
    };
    expect(
      (await got.post(created.webhookUrl!.replace('http://127.0.0.1:1', t.url), { body: first.body, headers: forged, throwHttpErrors: false })).statusCode,
    ).to.equal(401);

    await t.gateway.webhooks.processor.tick();
    const events = await listEvents(t, created.id);
    expect(events.map((e) => [e.objectType, e.eventType, e.objectId])).to.have.deep.members([
      ['orders', 'CREATED', String(order.id)],
      ['orders', 'UPDATED', String(order.id)],
      ['customers', 'CREATED', String(customer.id)],
      ['customers', 'DELETED', String(customer.id)],
    ]);

    expect((await t.api.delete(`instances/${created.id}`)).statusCode).to.equal(200);
    expect(shopify.webhooks.size).to.equal(0);
  });
});
