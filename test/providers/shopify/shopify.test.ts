import '@shopify/shopify-api/adapters/node';
import { readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { ApiVersion, shopifyApi } from '@shopify/shopify-api';
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
/** Shopify accepts only HTTPS webhook URIs: the test gateway advertises one and the test maps it to its port. */
const PUBLIC_URL = 'https://hooks.example.com';
const GRAPHQL = `/admin/api/${VERSION}/graphql.json`;

describe('shopify connector against the emulated Shopify GraphQL Admin API', () => {
  let t: TestGateway;
  let shopify: ShopifyProvider;
  const sleeps: number[] = [];

  beforeEach(async () => {
    sleeps.length = 0;
    // Waits pass on the manual clock, so the emulated cost bucket restores while pollgate waits.
    const clock = new ManualClock();
    t = await startGateway({
      clock,
      config: { server: { publicUrl: PUBLIC_URL } },
      options: { sleep: async (ms: number) => void (sleeps.push(ms), clock.advance(ms)) },
    });
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
  const pagesOf = (field: string) => shopify.documents.filter((d) => new RegExp(`\\b${field}\\(`).test(d.query));

  it('polls orders, customers and products: updated_at search variable, sortKey UPDATED_AT, 250 a page, endCursor while hasNextPage', async () => {
    const { id, createdDate } = await createInstance();
    t.clock.advance(60_000);
    for (let i = 0; i < 520; i++) await shopify.create('orders', { email: `o${i}@example.com` });
    await shopify.create('customers', { displayName: 'Ada' });
    const first = await pollNow(t, id);
    expect(first.orders).to.include({ fetched: 520, created: 520 });
    expect(first.customers).to.include({ created: 1 });
    expect(first.products).to.include({ fetched: 0 });
    const pages = pagesOf('orders');
    expect(pages).to.have.length(3);
    const since = new Date(Date.parse(createdDate)).toISOString().replace(/\.\d{3}Z$/, 'Z');
    expect(pages[0].variables).to.deep.equal({ first: 250, query: `updated_at:>='${since}'` });
    expect(pages[0].query).to.match(/sortKey: UPDATED_AT/);
    expect(pages[1].variables.after).to.be.a('string');
    expect(shopify.provider.requests.every((r) => r.headers['x-shopify-access-token'] === TOKEN)).to.equal(true);

    t.clock.advance(5 * 60_000);
    const order = await shopify.update('orders', '450789470', { displayFinancialStatus: 'REFUNDED' });
    expect((await pollNow(t, id)).orders).to.include({ updated: 1 });
    const [latest] = await listEvents(t, id);
    expect(latest).to.include({ eventType: 'UPDATED', objectType: 'orders', objectId: order.legacyResourceId });
    expect(latest.raw).to.include({ displayFinancialStatus: 'REFUNDED' });
  });

  it('contract: every document the connector sends is valid against Shopify’s published Admin schema (2026-10)', async () => {
    const { id } = await createInstance();
    t.clock.advance(60_000);
    await shopify.create('products', { title: 'Hat' });
    await pollNow(t, id);
    const hooked = await createInstance({ 'event.vendor.type': 'webhook', 'webhook.secret': CLIENT_SECRET });
    expect((await t.api.delete(`instances/${hooked.id}`)).statusCode).to.equal(200);
    const fields = shopify.documents.map((d) => /\{\s*(\w+)\(/.exec(d.query)?.[1]);
    expect(new Set(fields)).to.deep.equal(new Set(['orders', 'customers', 'products', 'webhookSubscriptionCreate', 'webhookSubscriptionDelete']));
    expect(shopify.documents.flatMap((d) => d.errors)).to.deep.equal([]);
  });

  it('contract: a query broken on purpose fails the schema validation, and the poll with it', async () => {
    const connector = JSON.parse(readFileSync(new URL('../../../connectors/shopify.json', import.meta.url), 'utf8'));
    // The REST field name instead of the GraphQL one: the schema has no Order.updated_at.
    connector.key = 'shopify-broken';
    connector.events.poller.orders.graphql.query = connector.events.poller.orders.graphql.query.replace('updatedAt', 'updated_at');
    expect((await t.api.put('elements/shopify-broken', { json: connector })).statusCode).to.equal(201);
    const json = docInstanceJson('shopify');
    const res = await t.api.post('instances', {
      json: { ...json, element: { key: 'shopify-broken' }, configuration: { ...json.configuration, 'base.url': shopify.url } },
    });
    expect(res.statusCode).to.equal(201);
    t.clock.advance(60_000);
    const summary = await pollNow(t, (res.body as unknown as { id: number }).id);
    expect(summary.orders.error).to.match(/GraphQL errors: Cannot query field "updated_at" on type "Order"/);
    expect(summary.customers).to.include({ fetched: 0 });
    const refused = shopify.documents.filter((d) => d.errors.length);
    expect(refused).to.have.length(1);
    expect(refused[0].errors).to.deep.equal(['Cannot query field "updated_at" on type "Order". Did you mean "updatedAt" or "createdAt"?']);
  });

  it('contract: a webhook topic broken on purpose is refused by the schema (an enum value it does not list); nothing is left registered', async () => {
    const connector = JSON.parse(readFileSync(new URL('../../../connectors/shopify.json', import.meta.url), 'utf8'));
    connector.key = 'shopify-topic';
    // The REST topic's spelling, not the schema's WebhookSubscriptionTopic value.
    connector.events.webhook.registrations[1].context.topic = 'ORDERS_UPDATE';
    expect((await t.api.put('elements/shopify-topic', { json: connector })).statusCode).to.equal(201);
    const json = docInstanceJson('shopify');
    const res = await t.api.post('instances', {
      json: {
        ...json,
        element: { key: 'shopify-topic' },
        configuration: { ...json.configuration, 'base.url': shopify.url, 'event.vendor.type': 'webhook', 'webhook.secret': CLIENT_SECRET },
      },
    });
    expect(res.statusCode).to.equal(502);
    expect(res.body).to.include({ code: 'WEBHOOK_REGISTRATION_FAILED' });
    const refused = shopify.documents.filter((d) => d.errors.length);
    expect(refused).to.have.length(1);
    expect(refused[0].errors[0]).to.match(
      /^Variable "\$topic" got invalid value "ORDERS_UPDATE"; Value "ORDERS_UPDATE" does not exist in "WebhookSubscriptionTopic" enum\. Did you mean the enum value "ORDERS_UPDATED"/,
    );
    // The one made before it was deleted again.
    expect(shopify.webhooks.size).to.equal(0);
  });

  it('the instance check looks each subscription up with webhookSubscription(id): present, then gone', async () => {
    const created = await createInstance({ 'event.vendor.type': 'webhook', 'webhook.secret': CLIENT_SECRET });
    const check = async () => {
      const res = await t.api.post(`instances/${created.id}/check`);
      expect(res.statusCode).to.equal(200);
      return (res.body as unknown as { checks: Array<{ name: string; status: string; detail: string }> }).checks.find((c) => c.name === 'webhook')!;
    };
    expect(await check()).to.include({ status: 'ok', detail: '9 registrations present at the provider' });
    const [gone] = [...shopify.webhooks.values()].filter((w) => w.topic === 'PRODUCTS_DELETE');
    shopify.webhooks.delete(gone.id);
    const line = await check();
    expect(line.status).to.equal('failed');
    expect(line.detail).to.equal(`products/delete (${gone.id}): gone: the provider's listing no longer holds it`);
    expect(shopify.documents.flatMap((d) => d.errors)).to.deep.equal([]);
  });

  it('the instance check reads each object’s first page over GraphQL: ids and dates present; a GraphQL error is a failed line', async () => {
    const { id } = await createInstance();
    await shopify.create('orders');
    await shopify.create('customers');
    await shopify.create('products');
    const lines = async () => {
      const res = await t.api.post(`instances/${id}/check`);
      expect(res.statusCode).to.equal(200);
      return Object.fromEntries((res.body as unknown as { checks: Array<{ name: string; status: string; detail: string }> }).checks.map((c) => [c.name, c]));
    };
    const healthy = await lines();
    for (const object of ['object:orders', 'object:customers', 'object:products']) expect(healthy[object].status, healthy[object].detail).to.equal('ok');
    shopify.provider.failNext(
      1,
      { status: 200, body: { errors: [{ message: 'Access denied for orders field.', extensions: { code: 'ACCESS_DENIED' } }] } },
      { path: GRAPHQL },
    );
    const denied = Object.values(await lines()).filter((c) => c.status === 'failed');
    expect(denied).to.have.length(1);
    expect(denied[0]).to.include({ name: 'object:orders' });
    expect(denied[0].detail).to.match(/^the first page could not be fetched: the provider answered HTTP 200: .*Access denied for orders field\./);
  });

  it('orders older than 60 days: an update arrives with read_all_orders, and Shopify hides it without', async () => {
    const old = await shopify.create('orders', { email: 'old@example.com' });
    t.clock.advance(90 * 86_400_000);
    const { id } = await createInstance();
    t.clock.advance(60_000);
    await shopify.update('orders', old.legacyResourceId, { displayFinancialStatus: 'PAID' });
    expect((await pollNow(t, id)).orders).to.include({ fetched: 1, updated: 1 });

    // The same shop, a token without read_all_orders: the order is outside the 60-day window.
    shopify.o.scopes.splice(shopify.o.scopes.indexOf('read_all_orders'), 1);
    t.clock.advance(60_000);
    await shopify.update('orders', old.legacyResourceId, { displayFinancialStatus: 'REFUNDED' });
    expect((await pollNow(t, id)).orders).to.include({ fetched: 0, updated: 0 });
  });

  it('customers: updated_at matches whole days, so a customer changed later that day is listed (and raised once)', async () => {
    const { id } = await createInstance();
    t.clock.advance(60_000);
    const c = await shopify.create('customers', { displayName: 'Bob' });
    expect((await pollNow(t, id)).customers).to.include({ created: 1 });
    t.clock.advance(10 * 60_000);
    // Listed again by the whole-day match; the same content raises nothing.
    expect((await pollNow(t, id)).customers).to.include({ fetched: 1, created: 0, updated: 0 });
    t.clock.advance(10 * 60_000);
    await shopify.update('customers', c.legacyResourceId, { displayName: 'Robert' });
    expect((await pollNow(t, id)).customers).to.include({ updated: 1 });
  });

  it('a THROTTLED page waits until the bucket holds the requested cost, then goes again; pages are paced by throttleStatus', async () => {
    const { id } = await createInstance();
    t.clock.advance(60_000);
    for (let i = 0; i < 600; i++) await shopify.create('products', { title: `p${i}` });
    shopify.setAvailable(2);
    const summary = await pollNow(t, id);
    expect(summary.orders).to.include({ fetched: 0 });
    expect(summary.customers).to.include({ fetched: 0 });
    expect(summary.products).to.include({ created: 600 });
    // A query that found the bucket short waited (requested − available) / 100 points a second:
    // the first found 2 points of the 252 (or 502) it asked for.
    expect(shopify.throttled).to.be.greaterThan(0);
    const [first] = shopify.throttles;
    expect(first.available).to.equal(2);
    expect(sleeps).to.include(((first.requested - first.available) / 100) * 1000);
    // The three listings share the shop's bucket (and queue for its restore); their first pages go
    // before any cost is known, and one the others drained the bucket for is throttled and sent
    // again, never lost: 3 listings, 5 pages, each answered once.
    const answered = shopify.documents.length - shopify.throttled;
    expect(answered).to.equal(5);
    expect(sleeps.every((ms) => ms <= 10_000)).to.equal(true);
  });

  it('pages of one listing are paced by throttleStatus: with the bucket to itself, no page is throttled', async () => {
    const { id } = await createInstance();
    t.clock.advance(60_000);
    // Orders and customers are polled (and pay) first; then the products listing has the bucket alone.
    await pollNow(t, id);
    for (let i = 0; i < 1000; i++) await shopify.create('products', { title: `p${i}` });
    t.clock.advance(60_000);
    shopify.setAvailable(300);
    sleeps.length = 0;
    const throttledBefore = shopify.throttled;
    const pages = shopify.documents.length;
    const polled = await t.api.post(`instances/${id}/events/poll?objectType=products`);
    expect((polled.body as unknown as { objects: Record<string, unknown> }).objects.products).to.include({ created: 1000 });
    // 4 pages of 250 at 252 points each, 300 in the bucket and 100 restored a second: every page
    // after the first waited for its cost, and none was throttled.
    expect(shopify.documents.length - pages).to.equal(4);
    expect(shopify.throttled - throttledBefore).to.equal(0);
    expect(sleeps.length).to.equal(3);
  });

  it('a page answered with GraphQL errors fails the poll (never an empty listing); the watermark stays', async () => {
    const { id } = await createInstance();
    t.clock.advance(60_000);
    await shopify.create('orders');
    shopify.provider.failNext(
      1,
      { status: 200, body: { errors: [{ message: 'Internal error. Looks like something went wrong on our end.' }] } },
      { path: GRAPHQL },
    );
    // Orders alone: with every object polled at once, the failed answer could go to another object's query.
    const pollOrders = async () =>
      ((await t.api.post(`instances/${id}/events/poll?objectType=orders`)).body as unknown as { objects: Record<string, Record<string, unknown>> }).objects
        .orders;
    expect((await pollOrders()).error).to.match(/GraphQL errors: Internal error/);
    t.clock.advance(60_000);
    expect(await pollOrders()).to.include({ created: 1 });
  });

  it('webhook mode: webhookSubscriptionCreate per topic, HMAC checked with @shopify/shopify-api, dedupe on X-Shopify-Event-Id, all deleted', async () => {
    const created = await createInstance({ 'event.vendor.type': 'webhook', 'webhook.secret': CLIENT_SECRET });
    expect([...shopify.webhooks.values()].map((w) => w.topic).sort()).to.deep.equal([
      'CUSTOMERS_CREATE',
      'CUSTOMERS_DELETE',
      'CUSTOMERS_UPDATE',
      'ORDERS_CREATE',
      'ORDERS_DELETE',
      'ORDERS_UPDATED',
      'PRODUCTS_CREATE',
      'PRODUCTS_DELETE',
      'PRODUCTS_UPDATE',
    ]);
    const hookUrl = created.webhookUrl!.replace(PUBLIC_URL, t.url);
    for (const hook of shopify.webhooks.values()) {
      expect(hook.uri).to.equal(created.webhookUrl);
      hook.uri = hookUrl;
    }

    const order = await shopify.create('orders', { email: 'ada@example.com' });
    await shopify.update('orders', order.legacyResourceId, { displayFinancialStatus: 'PAID' });
    const customer = await shopify.create('customers', { displayName: 'Bob' });
    await shopify.remove('customers', customer.legacyResourceId);
    expect(shopify.deliveries.map((d) => d.status)).to.deep.equal([202, 202, 202, 202]);

    // The emulator signs as Shopify does: Shopify's own library accepts every delivery.
    const api = shopifyApi({
      apiKey: 'client-id',
      apiSecretKey: CLIENT_SECRET,
      scopes: [],
      hostName: 'localhost',
      // The HMAC check does not depend on the API version; 13.1 (the line that runs on Node 20) knows up to 2025-10.
      apiVersion: ApiVersion.October25,
      isEmbeddedApp: false,
      logger: { log: async () => undefined },
    });
    for (const d of shopify.deliveries) {
      const verdict = await api.webhooks.validate({
        rawBody: d.body,
        rawRequest: { headers: d.headers, method: 'POST', url: '/' } as never,
        rawResponse: {} as never,
      });
      expect(verdict).to.include({ valid: true, domain: 'acme.myshopify.com' });
    }

    const [first] = shopify.deliveries;
    const again = await got.post(hookUrl, { body: first.body, headers: { ...first.headers, 'x-shopify-webhook-id': 'retry' }, throwHttpErrors: false });
    expect(JSON.parse(again.body)).to.include({ status: 'duplicate' });
    const forged = {
      ...first.headers,
      'x-shopify-event-id': 'other',
      'x-shopify-hmac-sha256': createHmac('sha256', 'wrong').update(first.body).digest('base64'),
    };
    expect((await got.post(hookUrl, { body: first.body, headers: forged, throwHttpErrors: false })).statusCode).to.equal(401);

    await t.gateway.webhooks.processor.tick();
    const events = await listEvents(t, created.id);
    expect(events.map((e) => [e.objectType, e.eventType, e.objectId])).to.have.deep.members([
      ['orders', 'CREATED', order.legacyResourceId],
      ['orders', 'UPDATED', order.legacyResourceId],
      ['customers', 'CREATED', customer.legacyResourceId],
      ['customers', 'DELETED', customer.legacyResourceId],
    ]);

    expect((await t.api.delete(`instances/${created.id}`)).statusCode).to.equal(200);
    expect(shopify.webhooks.size).to.equal(0);
  });
});
