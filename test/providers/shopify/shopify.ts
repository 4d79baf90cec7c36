import { createHmac, randomUUID } from 'node:crypto';
import got from 'got';
import { ProviderEmulator } from '../emulator-base.js';
import { EmulatedProvider, type CannedResponse, type RouteRequest } from '../../../sandbox/provider-server.js';

/**
 * An emulated Shopify Admin REST API for one shop, as Shopify documents it:
 * - `X-Shopify-Access-Token`, else 401; the API version is in the path (`/admin/api/2025-10/…`),
 *   an unknown version is 404;
 * - GET orders.json, customers.json, products.json — `updated_at_min` (ISO 8601 with offset),
 *   `limit` ≤ 250 (default 50), `status` for orders (open by default; `any`); cursor paging by
 *   `Link: <…?limit=250&page_info=…>; rel="next"`: a request with `page_info` may carry only
 *   `limit` (and `fields`) — anything else is a 400, as Shopify answers;
 * - the leaky bucket: 40 calls, draining 2 a second by the provider's clock; every answer says
 *   `X-Shopify-Shop-Api-Call-Limit: <used>/40`, and a call over the bucket is 429 with `Retry-After`;
 * - POST webhooks.json `{"webhook": {topic, address, format}}` → 201; DELETE webhooks/{id}.json → 200;
 * - changes made through `create`, `update`, `remove` are delivered to the webhooks of their topic
 *   (`orders/create`, `orders/updated`, `customers/update`, `products/delete`, …) with
 *   `X-Shopify-Topic`, `X-Shopify-Hmac-Sha256` (base64 HMAC-SHA256 of the body with the app's
 *   client secret — Shopify's recipe), `X-Shopify-Webhook-Id`, `X-Shopify-Event-Id`,
 *   `X-Shopify-Triggered-At`, `X-Shopify-Shop-Domain`, `X-Shopify-API-Version`.
 */
export type ShopifyResource = 'orders' | 'customers' | 'products';
type ShopifyRecord = Record<string, unknown> & { id: number; created_at: string; updated_at: string };
export interface ShopifyWebhook {
  id: number;
  topic: string;
  /** Mutable: tests point a webhook made with a placeholder public URL at the gateway's real port. */
  address: string;
}

const BUCKET_SIZE = 40;
const LEAK_PER_SECOND = 2;
const SINGULAR: Record<ShopifyResource, string> = { orders: 'order', customers: 'customer', products: 'product' };
/** Shopify's topic names: `orders/updated` but `customers/update` and `products/update`. */
const UPDATE_TOPIC: Record<ShopifyResource, string> = { orders: 'orders/updated', customers: 'customers/update', products: 'products/update' };
const shopifyDate = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
const fail = (status: number, errors: unknown, headers: Record<string, string> = {}): CannedResponse => ({ status, headers, body: { errors } });

export class ShopifyProvider extends ProviderEmulator {
  readonly webhooks = new Map<number, ShopifyWebhook>();
  readonly deliveries: Array<{ topic: string; body: string; headers: Record<string, string>; status: number }> = [];
  /** Calls answered 429 because the bucket was full. */
  throttled = 0;
  private bucket = { used: 0, at: 0 };
  private readonly records: Record<ShopifyResource, Map<number, ShopifyRecord>> = { orders: new Map(), customers: new Map(), products: new Map() };
  private nextId = 450789469;
  private nextWebhookId = 4759306;

  private constructor(
    provider: EmulatedProvider,
    readonly shop: string,
    readonly version: string,
    readonly accessToken: string,
    readonly clientSecret: string,
  ) {
    super(provider);
  }

  static async start(o: { shop: string; version: string; accessToken: string; clientSecret: string }): Promise<ShopifyProvider> {
    const provider = await EmulatedProvider.start();
    const shopify = new ShopifyProvider(provider, o.shop, o.version, o.accessToken, o.clientSecret);
    provider.inspect = (req) => {
      if (req.headers['x-shopify-access-token'] !== o.accessToken)
        return fail(401, '[API] Invalid API key or access token (unrecognized login or wrong password)');
      const version = /^\/admin\/api\/([^/]+)\//.exec(req.path)?.[1];
      if (version !== o.version) return fail(404, 'Not Found');
      return shopify.spendCall();
    };
    const base = `/admin/api/${o.version}`;
    for (const resource of ['orders', 'customers', 'products'] as const)
      provider.route('GET', `${base}/${resource}.json`, (req) => shopify.list(resource, req));
    provider.route('POST', `${base}/webhooks.json`, (req) => shopify.createWebhook(req));
    provider.route('DELETE', `${base}/webhooks/:file`, (req) => shopify.deleteWebhook(req.params.file));
    return shopify;
  }

  /** Fills the bucket as other apps' calls would (tests start a poll near the limit). */
  setBucket(used: number): void {
    this.bucket = { used, at: this.provider.now() };
  }

  // -------------------------------------------------------------------------------------------
  // Changes

  async create(resource: ShopifyResource, fields: Record<string, unknown> = {}): Promise<ShopifyRecord> {
    const at = shopifyDate(this.provider.now());
    const record: ShopifyRecord = {
      id: this.nextId++,
      admin_graphql_api_id: `gid://shopify/${SINGULAR[resource]}/${this.nextId}`,
      ...fields,
      created_at: at,
      updated_at: at,
    };
    this.records[resource].set(record.id, record);
    await this.push(`${resource}/create`, record);
    return record;
  }

  async update(resource: ShopifyResource, id: number, fields: Record<string, unknown>): Promise<ShopifyRecord> {
    const record = this.records[resource].get(id);
    if (!record) throw new Error(`no ${resource} ${id}`);
    Object.assign(record, fields, { updated_at: shopifyDate(this.provider.now()) });
    await this.push(UPDATE_TOPIC[resource], record);
    return record;
  }

  async remove(resource: ShopifyResource, id: number): Promise<void> {
    this.records[resource].delete(id);
    await this.push(`${resource}/delete`, { id });
  }

  private async push(topic: string, payload: Record<string, unknown>): Promise<void> {
    const body = JSON.stringify(payload);
    for (const hook of this.webhooks.values()) {
      if (hook.topic !== topic) continue;
      const headers = {
        'content-type': 'application/json',
        'x-shopify-topic': topic,
        'x-shopify-shop-domain': `${this.shop}.myshopify.com`,
        'x-shopify-api-version': this.version,
        'x-shopify-webhook-id': randomUUID(),
        'x-shopify-event-id': randomUUID(),
        'x-shopify-triggered-at': new Date(this.provider.now()).toISOString(),
        'x-shopify-hmac-sha256': createHmac('sha256', this.clientSecret).update(body, 'utf8').digest('base64'),
      };
      const res = await got.post(hook.address, { body, headers, throwHttpErrors: false, retry: { limit: 0 } });
      this.deliveries.push({ topic, body, headers, status: res.statusCode });
    }
  }

  // -------------------------------------------------------------------------------------------
  // REST endpoints

  /** One call into the leaky bucket; over it, 429 (the call is not counted). */
  private spendCall(): CannedResponse | undefined {
    const now = this.provider.now();
    const used = Math.max(0, this.bucket.used - ((now - this.bucket.at) / 1000) * LEAK_PER_SECOND);
    if (used + 1 > BUCKET_SIZE) {
      this.throttled++;
      return fail(429, 'Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.', {
        'retry-after': '1.0',
        'x-shopify-shop-api-call-limit': `${Math.ceil(used)}/${BUCKET_SIZE}`,
      });
    }
    this.bucket = { used: used + 1, at: now };
    return undefined;
  }

  private callLimit(): Record<string, string> {
    return { 'x-shopify-shop-api-call-limit': `${Math.ceil(this.bucket.used)}/${BUCKET_SIZE}` };
  }

  private list(resource: ShopifyResource, req: RouteRequest): CannedResponse {
    const q = req.query;
    const limit = Number(q.limit ?? 50);
    if (!Number.isInteger(limit) || limit < 1 || limit > 250) return fail(400, { limit: ['must be between 1 and 250'] });
    let filter = q;
    let offset = 0;
    if (q.page_info !== undefined) {
      const extra = Object.keys(q).filter((k) => !['page_info', 'limit', 'fields'].includes(k));
      if (extra.length) return fail(400, { page_info: [`cannot be combined with ${extra.join(', ')}: pass only page_info and limit`] });
      try {
        ({ filter, offset } = JSON.parse(Buffer.from(q.page_info, 'base64url').toString('utf8')) as { filter: Record<string, string>; offset: number });
      } catch {
        return fail(400, { page_info: ['Invalid value.'] });
      }
    }
    const min = filter.updated_at_min === undefined ? undefined : Date.parse(filter.updated_at_min);
    if (min !== undefined && Number.isNaN(min)) return fail(400, { updated_at_min: ['is not a date'] });
    const status = resource === 'orders' ? (filter.status ?? 'open') : 'any';
    const rows = [...this.records[resource].values()]
      .filter((r) => (min === undefined || Date.parse(r.updated_at) >= min) && (status === 'any' || (r.status ?? 'open') === status))
      .sort((a, b) => a.id - b.id);
    const page = rows.slice(offset, offset + limit);
    const links: string[] = [];
    const link = (at: number, rel: string) => {
      const info = Buffer.from(JSON.stringify({ filter: { updated_at_min: filter.updated_at_min, status: filter.status }, offset: at })).toString('base64url');
      return `<${this.url}/admin/api/${this.version}/${resource}.json?limit=${limit}&page_info=${info}>; rel="${rel}"`;
    };
    if (offset > 0) links.push(link(Math.max(0, offset - limit), 'previous'));
    if (offset + limit < rows.length) links.push(link(offset + limit, 'next'));
    return { status: 200, headers: { ...this.callLimit(), ...(links.length ? { link: links.join(', ') } : {}) }, body: { [resource]: page } };
  }

  private createWebhook(req: RouteRequest): CannedResponse {
    const webhook = (req.json as { webhook?: { topic?: string; address?: string; format?: string } } | undefined)?.webhook;
    if (!webhook?.topic || !webhook.address)
      return fail(422, { topic: webhook?.topic ? [] : ["can't be blank"], address: webhook?.address ? [] : ["can't be blank"] });
    if ([...this.webhooks.values()].some((w) => w.topic === webhook.topic && w.address === webhook.address))
      return fail(422, { address: ['for this topic has already been taken'] });
    const hook: ShopifyWebhook = { id: this.nextWebhookId++, topic: webhook.topic, address: webhook.address };
    this.webhooks.set(hook.id, hook);
    const at = shopifyDate(this.provider.now());
    return {
      status: 201,
      headers: this.callLimit(),
      body: {
        webhook: {
          id: hook.id,
          address: hook.address,
          topic: hook.topic,
          created_at: at,
          updated_at: at,
          format: webhook.format ?? 'json',
          fields: [],
          metafield_namespaces: [],
          api_version: this.version,
          private_metafield_namespaces: [],
        },
      },
    };
  }

  private deleteWebhook(file: string): CannedResponse {
    const id = Number(/^(\d+)\.json$/.exec(file)?.[1]);
    if (!this.webhooks.delete(id)) return fail(404, 'Not Found');
    return { status: 200, headers: this.callLimit(), body: {} };
  }
}
