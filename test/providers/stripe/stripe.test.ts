import { expect } from 'chai';
import qs from 'qs';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { listEvents, pollNow } from '../../poller/helpers.js';
import { createFromDoc, docInstanceJson } from '../catalog.js';
import { readFileSync } from 'node:fs';
import got from 'got';
import { ACCOUNT_DEFAULT_VERSION, PACKAGE_API_VERSION, StripeProvider } from './stripe.js';

const doc = docInstanceJson('stripe');
const API_KEY = String(doc.configuration['api.key']);

describe('stripe connector against the emulated Stripe (signatures by the stripe library)', () => {
  let t: TestGateway;
  let stripe: StripeProvider;

  beforeEach(async () => {
    t = await startGateway();
    stripe = await StripeProvider.start({ apiKey: API_KEY });
    stripe.now = () => t.clock.now();
  });

  afterEach(async () => {
    const invalid = stripe.invalidRequests.map((r) => `${r.request.method} ${r.request.path}: ${r.errors.join('; ')}`);
    await t.close();
    await stripe.close();
    // Every request pollgate made must be valid for Stripe's own description (the vendored subset).
    expect(invalid).to.deep.equal([]);
  });

  const createInstance = (extra: Record<string, unknown> = {}) => createFromDoc(t, 'stripe', stripe.url, extra);
  const eventRequests = () => stripe.provider.requests.filter((r) => r.path === '/v1/events');

  it('polls /v1/events per object type: one event per Stripe event, typed by its suffix, carrying data.object, oldest first', async () => {
    const instance = await createInstance();
    t.clock.advance(2000);
    const ada = await stripe.create('customer', { email: 'ada@example.com' });
    const bob = await stripe.create('customer', { email: 'bob@example.com' });
    t.clock.advance(1000);
    await stripe.update(String(ada.id), { email: 'ada@lovelace.dev' });
    await stripe.remove(String(bob.id));
    const invoice = await stripe.create('invoice', { customer: ada.id, status: 'draft' });
    await stripe.update(String(invoice.id), { status: 'paid' }, 'paid');
    await stripe.create('subscription', { customer: ada.id, status: 'active' });
    await stripe.create('charge', { amount: 1200, currency: 'eur' });

    const summary = await pollNow(t, instance.id);
    expect(summary.customers).to.include({ fetched: 4, created: 2, updated: 1, deleted: 1 });
    expect(summary.invoices).to.include({ fetched: 2, created: 1, updated: 1 });
    expect(summary.subscriptions).to.include({ created: 1 });
    // Stripe has no charge.created: a new charge's first event is charge.succeeded (or pending, failed).
    expect(summary.charges).to.include({ fetched: 1, created: 0, updated: 1 });

    const customerRequest = eventRequests().find((r) => r.query['types[0]'] === 'customer.created')!;
    expect(customerRequest.query).to.deep.equal({
      'types[0]': 'customer.created',
      'types[1]': 'customer.updated',
      'types[2]': 'customer.deleted',
      'created[gte]': String(Math.floor(Date.parse(instance.createdDate) / 1000)),
      limit: '100',
    });
    expect(customerRequest.headers.authorization).to.equal(`Bearer ${API_KEY}`);
    expect(
      eventRequests()
        .map((r) => r.query.type)
        .filter(Boolean),
    ).to.have.members(['invoice.*', 'customer.subscription.*']);

    const customers = (await listEvents(t, instance.id, '&objectType=customers'))
      .filter((e) => e.objectType === 'customers')
      .sort((a, b) => a.sequence - b.sequence);
    expect(customers.map((e) => [e.eventType, e.objectId])).to.deep.equal([
      ['CREATED', ada.id],
      ['CREATED', bob.id],
      ['UPDATED', ada.id],
      ['DELETED', bob.id],
    ]);
    expect(customers[2].raw).to.deep.include({ id: ada.id, object: 'customer', email: 'ada@lovelace.dev' });

    // The overlap lists the same events again: nothing is raised twice.
    t.clock.advance(60_000);
    const again = await pollNow(t, instance.id);
    expect(Object.values(again).map((o) => o.created + o.updated + o.deleted)).to.deep.equal([0, 0, 0, 0]);
  });

  it('pages with starting_after while has_more, and events created during the listing are raised by the next poll', async () => {
    const { id } = await createInstance();
    t.clock.advance(2000);
    for (let i = 0; i < 230; i++) await stripe.create('customer', { email: `c${i}@example.com` });
    let late: Record<string, unknown> | undefined;
    stripe.beforeNextPage = () => {
      stripe.beforeNextPage = undefined;
      void stripe.create('customer', { email: 'late@example.com' }).then((c) => (late = c));
    };
    const first = await pollNow(t, id);
    expect(first.customers).to.include({ fetched: 230, created: 230 });
    const pages = eventRequests().filter((r) => r.query['types[0]'] === 'customer.created');
    expect(pages.map((r) => r.query.starting_after === undefined)).to.deep.equal([true, false, false]);
    expect(pages[1].query.starting_after).to.equal(stripe.events[130].id);
    expect(late).to.not.equal(undefined);

    t.clock.advance(5 * 60_000);
    const second = await pollNow(t, id);
    expect(second.customers).to.include({ created: 1 });
    const customers = (await listEvents(t, id)).filter((e) => e.objectType === 'customers');
    expect(customers).to.have.length(231);
    expect(customers[0].objectId).to.equal(late!.id);
  });

  it('retries a 429 and reports a poll that keeps being rate limited', async () => {
    const { id } = await createInstance();
    t.clock.advance(2000);
    await stripe.create('customer');
    const limited = {
      status: 429,
      headers: { 'stripe-rate-limited-reason': 'global-rate' },
      body: { error: { type: 'invalid_request_error', code: 'rate_limit', message: 'Too many requests hit the API too quickly.' } },
    };
    stripe.provider.failNext(1, limited, { path: '/v1/events' });
    const summary = await pollNow(t, id);
    expect(Object.values(summary).every((o) => o.error === undefined)).to.equal(true);
    expect(summary.customers).to.include({ created: 1 });
    expect(eventRequests()).to.have.length(5);
    stripe.provider.failNext(12, limited, { path: '/v1/events' });
    expect((await pollNow(t, id)).customers.error).to.match(/429/);
  });

  it('webhook mode: registers an endpoint with a form body, keeps the returned secret, verifies Stripe-Signature with 300 s tolerance', async () => {
    const created = await createInstance({ 'event.vendor.type': 'webhook' });
    const [endpoint] = [...stripe.endpoints.values()];
    const registration = stripe.provider.requests.find((r) => r.method === 'POST')!;
    expect(registration.headers['content-type']).to.match(/^application\/x-www-form-urlencoded/);
    const form = qs.parse(registration.body, { arrayLimit: 1000 }) as { url: string; enabled_events: string[]; description: string };
    expect(form.url).to.equal(created.webhookUrl);
    // Only names Stripe lists for enabled_events ('*' is its one wildcard): invoice.* is spelled out.
    expect(form.enabled_events).to.include.members(['customer.created', 'invoice.paid', 'customer.subscription.updated', 'charge.succeeded']);
    expect(form.enabled_events.filter((e) => e.endsWith('*'))).to.deep.equal([]);
    expect(created.webhookId).to.equal(endpoint.id);
    expect(created.configuration['webhook.secret']).to.equal('********');
    const [row] = await t.gateway.db('instances').where({ id: created.id }).select('configuration');
    expect(String(row.configuration)).not.to.include(endpoint.secret);
    endpoint.url = endpoint.url.replace('http://127.0.0.1:1', t.url);

    const customer = await stripe.create('customer', { email: 'ada@example.com' });
    await stripe.update(String(customer.id), { email: 'ada@lovelace.dev' });
    const invoice = await stripe.create('invoice', { customer: customer.id });
    await stripe.update(String(invoice.id), { status: 'paid' }, 'payment_succeeded');
    await stripe.remove(String(customer.id));
    expect(stripe.deliveries.map((d) => d.status)).to.deep.equal([202, 202, 202, 202, 202]);

    // Signed 301 s ago → 401; 299 s ago → accepted.
    const last = stripe.events.at(-1)!;
    expect(await stripe.deliver(endpoint, last, Math.floor(t.clock.now() / 1000) - 301)).to.equal(401);
    expect(await stripe.deliver(endpoint, last, Math.floor(t.clock.now() / 1000) - 299)).to.equal(202);

    await t.gateway.webhooks.processor.tick();
    const events = await listEvents(t, created.id);
    expect(events.map((e) => [e.objectType, e.eventType, e.objectId])).to.have.deep.members([
      ['customers', 'CREATED', customer.id],
      ['customers', 'UPDATED', customer.id],
      ['invoices', 'CREATED', invoice.id],
      ['invoices', 'UPDATED', invoice.id],
      ['customers', 'DELETED', customer.id],
    ]);

    expect((await t.api.delete(`instances/${created.id}`)).statusCode).to.equal(200);
    expect(stripe.endpoints.size).to.equal(0);
  });

  it('webhook mode with a given webhook.secret verifies with it, not with the one Stripe returns', async () => {
    const given = 'whsec_given0by0the0instance';
    const created = await createInstance({ 'event.vendor.type': 'webhook', 'webhook.secret': given });
    const [endpoint] = [...stripe.endpoints.values()];
    endpoint.url = created.webhookUrl!.replace('http://127.0.0.1:1', t.url);
    await stripe.create('customer');
    expect(stripe.deliveries.at(-1)!.status).to.equal(401);
    expect(await stripe.deliver({ ...endpoint, secret: given }, stripe.events.at(-1)!)).to.equal(202);
  });

  it('pins Stripe-Version to the stripe package’s API version on every call and as the endpoint’s api_version, so payloads do not follow the account default', async () => {
    expect(PACKAGE_API_VERSION).to.not.equal(ACCOUNT_DEFAULT_VERSION);
    const polled = await createInstance();
    const hooked = await createInstance({ 'event.vendor.type': 'webhook' });
    const [endpoint] = [...stripe.endpoints.values()];
    endpoint.url = hooked.webhookUrl!.replace('http://127.0.0.1:1', t.url);
    t.clock.advance(2000);
    const customer = await stripe.create('customer', { email: 'ada@example.com' });
    await pollNow(t, polled.id);
    await t.gateway.webhooks.processor.tick();
    expect(stripe.deliveries.map((d) => [d.apiVersion, d.status])).to.deep.equal([[PACKAGE_API_VERSION, 202]]);
    expect((await listEvents(t, hooked.id)).map((e) => e.objectId)).to.deep.equal([customer.id]);
    expect((await t.api.delete(`instances/${hooked.id}`)).statusCode).to.equal(200);

    // Polls of the four object types, the endpoint's creation and its deletion: one version.
    expect(stripe.versions.length).to.be.at.least(6);
    expect([...new Set(stripe.versions)]).to.deep.equal([PACKAGE_API_VERSION]);
    const registration = qs.parse(stripe.provider.requests.find((r) => r.method === 'POST')!.body) as { api_version?: string };
    expect(registration.api_version).to.equal(PACKAGE_API_VERSION);
    expect(endpoint.api_version).to.equal(PACKAGE_API_VERSION);
  });

  it('the contract check refuses what Stripe’s description refuses: a connector with a broken request fails registration', async () => {
    // Straight at the emulator: an unknown list parameter and an event name Stripe does not list.
    const auth = { authorization: `Bearer ${API_KEY}` };
    const list = await got(`${stripe.url}/v1/events?limit=10&kind=customer`, { headers: auth, throwHttpErrors: false, responseType: 'json' });
    expect(list.statusCode).to.equal(400);
    expect(JSON.stringify(list.body)).to.match(/additional properties.*kind/);

    // The bundled connector with one enabled event misspelt, registered as a custom connector: the
    // gateway's own registration request is refused by the description's enum.
    const broken = JSON.parse(readFileSync(new URL('../../../connectors/stripe.json', import.meta.url), 'utf8'));
    broken.key = 'stripe-broken';
    const events: string[] = broken.requests.createWebhookEndpoint.schema.body.enabled_events;
    events[events.indexOf('customer.updated')] = 'customer.update';
    expect((await t.api.post('elements', { json: broken })).statusCode).to.equal(201);
    const res = await t.api.post('instances', {
      json: { ...doc, element: { key: 'stripe-broken' }, configuration: { ...doc.configuration, 'base.url': stripe.url, 'event.vendor.type': 'webhook' } },
    });
    expect(res.statusCode).to.equal(502);
    expect(JSON.stringify(res.body)).to.match(/enabled_events\/\d+ must be equal to one of the allowed values/);
    expect(stripe.invalidRequests.map((r) => r.request.path)).to.deep.equal(['/v1/events', '/v1/webhook_endpoints']);
    stripe.invalidRequests.length = 0;
  });
});
