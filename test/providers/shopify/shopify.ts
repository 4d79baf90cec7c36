import { createHmac, randomUUID } from 'node:crypto';
import got from 'got';
import { execute } from 'graphql';
import { ProviderEmulator } from '../emulator-base.js';
import { EmulatedProvider, type CannedResponse, type RouteRequest } from '../../../sandbox/provider-server.js';
import { ADMIN_SCHEMA, meets, parseSearch, queryCost, schemaErrors } from './admin-graphql.js';

/**
 * An emulated Shopify shop behind the GraphQL Admin API (2026-10), as Shopify documents it:
 * - `X-Shopify-Access-Token`, else 401; the version is in the path (`/admin/api/2026-10/graphql.json`),
 *   another one is 404;
 * - every document is validated against Shopify's published schema (admin-graphql.ts) with
 *   graphql's `validate` and answered as GraphQL answers: HTTP 200 with `errors`;
 * - `orders`, `customers`, `products` connections: `first` ≤ 250, cursors, `sortKey: UPDATED_AT`,
 *   the `updated_at` search term, the 60-day window of orders without `read_all_orders`;
 * - cost-based throttling with `extensions.cost` on every answer;
 * - `webhookSubscriptionCreate` / `webhookSubscriptionDelete`; changes made through `create`,
 *   `update`, `remove` are delivered to the subscriptions of their topic, signed as Shopify signs.
 */
export type ShopifyResource = 'orders' | 'customers' | 'products';
export type ShopifyNode = Record<string, unknown> & { id: string; legacyResourceId: string; createdAt: string; updatedAt: string };
export interface ShopifyWebhook {
  id: string;
  topic: string;
  /** Mutable: tests point a subscription made with the gateway's public URL at its real port. */
  uri: string;
}

/**
 * https://help.shopify.com/en/api/graphql-admin-api/call-limit: "A single query to the API cannot
 * exceed a cost of 1000." and "An app is given a bucket of 1000 cost points"; the restore rate of
 * the Standard plan, https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits: "Standard | 100 points/second".
 */
const MAX_COST = 1000;
const RESTORE_PER_SECOND = 100;
/** https://shopify.dev/docs/api/usage/pagination-graphql: "You can retrieve up to a maximum of 250 resources." */
const MAX_PAGE = 250;
/**
 * The `Order` object's description in the published schema: "Only the last 60 days' worth of orders
 * from a store are accessible from the `Order` object by default. If you want to access older
 * records, > then you need to [request access to all orders]" … "you can add the `read_all_orders`,
 * `read_orders`, and `write_orders` scopes."
 */
const ORDER_WINDOW_MS = 60 * 86_400_000;
const TYPE: Record<ShopifyResource, string> = { orders: 'Order', customers: 'Customer', products: 'Product' };
/** Shopify's topic names: `orders/updated` but `customers/update` and `products/update`. */
const UPDATE_TOPIC: Record<ShopifyResource, string> = { orders: 'orders/updated', customers: 'customers/update', products: 'products/update' };
const gqlDate = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const restDate = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
const fail = (status: number, errors: unknown): CannedResponse => ({ status, body: { errors } });

export class ShopifyProvider extends ProviderEmulator {
  readonly webhooks = new Map<string, ShopifyWebhook>();
  readonly deliveries: Array<{ topic: string; body: string; headers: Record<string, string>; status: number }> = [];
  /** Every document received, with its variables and the schema's verdict (contract tests read them). */
  readonly documents: Array<{ query: string; variables: Record<string, unknown>; errors: string[] }> = [];
  /** Queries answered THROTTLED, with the cost they asked for and what the bucket held. */
  readonly throttles: Array<{ requested: number; available: number }> = [];
  get throttled(): number {
    return this.throttles.length;
  }
  private bucket = { available: MAX_COST, at: 0 };
  private readonly records: Record<ShopifyResource, Map<string, ShopifyNode>> = { orders: new Map(), customers: new Map(), products: new Map() };
  private nextId = 450789469;
  private nextWebhookId = 4759306;

  private constructor(
    provider: EmulatedProvider,
    readonly o: { shop: string; version: string; accessToken: string; clientSecret: string; scopes: string[] },
  ) {
    super(provider);
  }

  static async start(o: { shop: string; version: string; accessToken: string; clientSecret: string; scopes?: string[] }): Promise<ShopifyProvider> {
    const provider = await EmulatedProvider.start();
    const scopes = o.scopes ?? ['read_orders', 'read_all_orders', 'read_customers', 'read_products', 'write_webhooks'];
    const shopify = new ShopifyProvider(provider, { ...o, scopes });
    provider.inspect = (req) => {
      if (req.headers['x-shopify-access-token'] !== o.accessToken)
        return fail(401, '[API] Invalid API key or access token (unrecognized login or wrong password)');
      return /^\/admin\/api\/([^/]+)\//.exec(req.path)?.[1] === o.version ? undefined : fail(404, 'Not Found');
    };
    provider.route('POST', `/admin/api/${o.version}/graphql.json`, (req) => shopify.graphql(req));
    return shopify;
  }

  /** Spends the bucket as other calls of the app would (tests start a poll with little left). */
  setAvailable(points: number): void {
    this.bucket = { available: points, at: this.provider.now() };
  }

  // -------------------------------------------------------------------------------------------
  // Changes

  async create(resource: ShopifyResource, fields: Record<string, unknown> = {}): Promise<ShopifyNode> {
    const id = String(this.nextId++);
    const at = gqlDate(this.provider.now());
    const node: ShopifyNode = {
      id: `gid://shopify/${TYPE[resource]}/${id}`,
      legacyResourceId: id,
      ...defaults(resource, id),
      ...fields,
      createdAt: at,
      updatedAt: at,
    };
    this.records[resource].set(id, node);
    await this.push(`${resource}/create`, node);
    return node;
  }

  async update(resource: ShopifyResource, id: string, fields: Record<string, unknown>): Promise<ShopifyNode> {
    const node = this.records[resource].get(id);
    if (!node) throw new Error(`no ${resource} ${id}`);
    Object.assign(node, fields, { updatedAt: gqlDate(this.provider.now()) });
    await this.push(UPDATE_TOPIC[resource], node);
    return node;
  }

  async remove(resource: ShopifyResource, id: string): Promise<void> {
    this.records[resource].delete(id);
    await this.push(`${resource}/delete`, { legacyResourceId: id } as ShopifyNode, true);
  }

  /** A webhook body is the REST representation (snake_case, numeric id), whatever API made the subscription. */
  private async push(topic: string, node: ShopifyNode, deleted = false): Promise<void> {
    const id = Number(node.legacyResourceId);
    const { id: gid, legacyResourceId: _id, createdAt, updatedAt, ...fields } = node;
    const rest = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]));
    const payload = deleted
      ? { id }
      : { id, admin_graphql_api_id: gid, ...rest, created_at: restDate(Date.parse(createdAt)), updated_at: restDate(Date.parse(updatedAt)) };
    const body = JSON.stringify(payload);
    const wanted = topic.toUpperCase().replace('/', '_');
    for (const hook of this.webhooks.values()) {
      if (hook.topic !== wanted) continue;
      const headers = {
        'content-type': 'application/json',
        'x-shopify-topic': topic,
        'x-shopify-shop-domain': `${this.o.shop}.myshopify.com`,
        'x-shopify-api-version': this.o.version,
        'x-shopify-webhook-id': randomUUID(),
        'x-shopify-event-id': randomUUID(),
        'x-shopify-triggered-at': new Date(this.provider.now()).toISOString(),
        // https://shopify.dev/docs/apps/build/webhooks/subscribe/https: "The HMAC digest is
        // generated using the app's client secret along with the data sent in the request."
        // (base64 HMAC-SHA256 of the raw body; the test checks it with @shopify/shopify-api).
        'x-shopify-hmac-sha256': createHmac('sha256', this.o.clientSecret).update(body, 'utf8').digest('base64'),
      };
      const res = await got.post(hook.uri, { body, headers, throwHttpErrors: false, retry: { limit: 0 } });
      this.deliveries.push({ topic, body, headers, status: res.statusCode });
    }
  }

  // -------------------------------------------------------------------------------------------
  // The GraphQL endpoint

  private refill(): number {
    const now = this.provider.now();
    this.bucket = { available: Math.min(MAX_COST, this.bucket.available + ((now - this.bucket.at) / 1000) * RESTORE_PER_SECOND), at: now };
    return this.bucket.available;
  }

  private throttleStatus() {
    return { maximumAvailable: MAX_COST, currentlyAvailable: Math.floor(this.bucket.available), restoreRate: RESTORE_PER_SECOND };
  }

  private async graphql(req: RouteRequest): Promise<CannedResponse> {
    const { query, variables = {} } = (req.json ?? {}) as { query?: unknown; variables?: Record<string, unknown> };
    if (typeof query !== 'string') return fail(400, { query: 'Required parameter missing or invalid' });
    const { document, errors } = schemaErrors(query, variables);
    this.documents.push({ query, variables, errors });
    if (!document || errors.length) return { status: 200, body: { errors: errors.map((message) => ({ message })) } };
    const requested = queryCost(document, variables);
    if (requested > MAX_COST)
      return {
        status: 200,
        body: {
          errors: [
            { message: `Query cost is ${requested}, which exceeds the single query max cost limit (${MAX_COST}).`, extensions: { code: 'MAX_COST_EXCEEDED' } },
          ],
        },
      };
    // https://help.shopify.com/en/api/graphql-admin-api/graphql-admin-api-rate-limits: "Before
    // execution begins, the app's bucket must have enough room for the requested cost of the query.
    // When execution is complete, the bucket is refunded the difference between the requested cost
    // and the actual cost of the query." — "All requests that are made after the limit has been
    // exceeded are throttled and an {errors: [{ message: "Throttled" }]} error is returned."
    if (this.refill() < requested) {
      this.throttles.push({ requested, available: Math.floor(this.bucket.available) });
      return {
        status: 200,
        body: {
          errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED', documentation: 'https://shopify.dev/api/usage/rate-limits' } }],
          extensions: { cost: { requestedQueryCost: requested, actualQueryCost: null, throttleStatus: this.throttleStatus() } },
        },
      };
    }
    this.bucket.available -= requested;
    const returned = new Map<string, number>();
    const result = await execute({ schema: ADMIN_SCHEMA, document, variableValues: variables, rootValue: this.resolvers(returned) });
    const actual = queryCost(document, variables, returned);
    this.bucket.available += requested - actual;
    return {
      status: 200,
      body: { ...result, extensions: { cost: { requestedQueryCost: requested, actualQueryCost: actual, throttleStatus: this.throttleStatus() } } },
    };
  }

  private resolvers(returned: Map<string, number>) {
    const connection = (resource: ShopifyResource) => (args: ConnectionArgs, _ctx: unknown, info: { fieldName: string; path: { key: string | number } }) => {
      const page = this.page(resource, args);
      returned.set(String(info.path.key), page.nodes.length);
      return page;
    };
    return {
      orders: connection('orders'),
      customers: connection('customers'),
      products: connection('products'),
      webhookSubscription: ({ id }: { id: string }) => this.webhooks.get(id) ?? null,
      webhookSubscriptionCreate: (args: { topic: string; webhookSubscription: { uri?: string; format?: string } }) => this.createWebhook(args),
      webhookSubscriptionDelete: ({ id }: { id: string }) => {
        if (!this.webhooks.delete(id))
          return { deletedWebhookSubscriptionId: null, userErrors: [{ field: ['id'], message: 'Webhook subscription does not exist' }] };
        return { deletedWebhookSubscriptionId: id, userErrors: [] };
      },
    };
  }

  private createWebhook({ topic, webhookSubscription }: { topic: string; webhookSubscription: { uri?: string; format?: string } }) {
    const uri = webhookSubscription.uri ?? '';
    // WebhookSubscriptionInput.uri in the published schema: "Supports an HTTPS URL, a Google
    // Pub/Sub URI (pubsub://{project-id}:{topic-id}) or an Amazon EventBridge event source ARN."
    if (!uri.startsWith('https://'))
      return { webhookSubscription: null, userErrors: [{ field: ['webhookSubscription', 'uri'], message: 'Address protocol http:// is not supported' }] };
    if ([...this.webhooks.values()].some((w) => w.topic === topic && w.uri === uri))
      return {
        webhookSubscription: null,
        userErrors: [{ field: ['webhookSubscription', 'callbackUrl'], message: 'Address for this topic has already been taken' }],
      };
    const hook: ShopifyWebhook = { id: `gid://shopify/WebhookSubscription/${this.nextWebhookId++}`, topic, uri };
    this.webhooks.set(hook.id, hook);
    return { webhookSubscription: { id: hook.id, topic, uri, format: webhookSubscription.format ?? 'JSON' }, userErrors: [] };
  }

  /** One page of a connection, as the published connection arguments and the documented search behave. */
  private page(resource: ShopifyResource, args: ConnectionArgs) {
    if (args.last !== undefined || args.before !== undefined) throw new Error('the emulator pages forward only (first/after)');
    if (args.first === undefined || args.first === null) throw new Error('you must provide one of first or last');
    if (args.first < 0 || args.first > MAX_PAGE) throw new Error(`The value of first must be between 0 and ${MAX_PAGE}`);
    const terms = parseSearch(args.query ?? undefined);
    if (typeof terms === 'string') throw new Error(terms);
    const now = this.provider.now();
    const wholeDay = resource === 'customers';
    let rows = [...this.records[resource].values()].filter((r) =>
      terms.every((t) => meets(t, Date.parse(t.field === 'updated_at' ? r.updatedAt : r.createdAt), wholeDay && t.field === 'updated_at')),
    );
    if (resource === 'orders' && !this.o.scopes.includes('read_all_orders')) rows = rows.filter((r) => Date.parse(r.createdAt) >= now - ORDER_WINDOW_MS);
    // sortKey UPDATED_AT (each sort key enum of the published schema lists it), ties by id; any other
    // sort key the emulator orders by id (the customers' and products' default, `ID`).
    const value = (r: ShopifyNode) => (args.sortKey === 'UPDATED_AT' ? Date.parse(r.updatedAt) : Number(r.legacyResourceId));
    rows.sort((a, b) => value(a) - value(b) || Number(a.legacyResourceId) - Number(b.legacyResourceId));
    if (args.reverse) rows.reverse();
    let start = 0;
    if (args.after) {
      // Cursors as Shopify's look: base64 of {"last_id", "last_value"} of the node they follow.
      const cursor = JSON.parse(Buffer.from(args.after, 'base64').toString('utf8')) as { last_id: number; last_value: number };
      const after = (r: ShopifyNode) =>
        args.reverse
          ? value(r) < cursor.last_value || (value(r) === cursor.last_value && Number(r.legacyResourceId) < cursor.last_id)
          : value(r) > cursor.last_value || (value(r) === cursor.last_value && Number(r.legacyResourceId) > cursor.last_id);
      start = rows.findIndex(after);
      if (start === -1) start = rows.length;
    }
    const nodes = rows.slice(start, start + args.first);
    const cursorOf = (r: ShopifyNode) => Buffer.from(JSON.stringify({ last_id: Number(r.legacyResourceId), last_value: value(r) })).toString('base64');
    const last = nodes[nodes.length - 1];
    return {
      nodes,
      edges: nodes.map((node) => ({ node, cursor: cursorOf(node) })),
      pageInfo: {
        hasNextPage: start + nodes.length < rows.length,
        hasPreviousPage: start > 0,
        endCursor: last ? cursorOf(last) : null,
        startCursor: nodes[0] ? cursorOf(nodes[0]) : null,
      },
    };
  }
}

interface ConnectionArgs {
  first?: number | null;
  last?: number;
  after?: string | null;
  before?: string;
  query?: string | null;
  sortKey?: string;
  reverse?: boolean;
}

/** Non-null fields of a new record that the test does not set. */
function defaults(resource: ShopifyResource, id: string): Record<string, unknown> {
  if (resource === 'orders')
    return { name: `#${id}`, email: null, cancelledAt: null, closedAt: null, displayFinancialStatus: 'PENDING', displayFulfillmentStatus: 'UNFULFILLED' };
  if (resource === 'customers') return { displayName: `Customer ${id}`, defaultEmailAddress: null, state: 'ENABLED' };
  return { title: `Product ${id}`, handle: `product-${id}`, status: 'ACTIVE' };
}
