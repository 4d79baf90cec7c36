import { randomBytes } from 'node:crypto';
import got from 'got';
import qs from 'qs';
import Stripe from 'stripe';
import { ProviderEmulator } from '../emulator-base.js';
import { EmulatedProvider, type CannedResponse, type RecordedRequest, type RouteRequest } from '../../../sandbox/provider-server.js';
import { openApiFromPackage, validateRequest } from '../openapi-validator.js';

/**
 * An emulated Stripe API (api.stripe.com/v1) as Stripe documents it:
 * - `Authorization: Bearer sk_…`, else 401 with Stripe's error body;
 * - GET /v1/events (https://docs.stripe.com/api/events/list; the sentences quoted are the
 *   operation's and its parameters' descriptions in Stripe's OpenAPI spec3) — `created`
 *   (`created[gt|gte|lt|lte]`, unix seconds); `type`: "A string containing a specific event name,
 *   or group of events using * as a wildcard"; `types[]`: "An array of up to 20 strings containing
 *   specific event names … You may pass either `type` or `types`, but not both"; `limit`: "Limit
 *   can range between 1 and 100, and the default is 10"; `starting_after` / `ending_before` ("an
 *   object ID that defines your place in the list"); newest first (Stripe's list convention, not
 *   quoted here); `{object: "list", url, has_more, data}`; any other parameter is refused (400
 *   "Received unknown parameter"). Not emulated: "List events, going back up to 30 days";
 * - POST /v1/webhook_endpoints (a form body: `url`, `enabled_events[]`, optional `description`,
 *   `api_version`, `metadata`) → the endpoint with its `secret` (`whsec_…`, shown only here);
 *   DELETE /v1/webhook_endpoints/{id} → `{id, object, deleted: true}`, unknown → 404;
 * - changes made through `create`, `update`, `remove` append events (`customer.created`, …, with
 *   `data.object`) and deliver them to each endpoint whose `enabled_events` match, signed by the
 *   official `stripe` library (`webhooks.generateTestHeaderString`) at the provider's clock.
 * - every request is first checked against the operations of Stripe's OpenAPI description the
 *   connector uses (`openapi-subset.json`, written by scripts/openapi-subset.ts (recipe scripts/openapi-subsets/stripe.ts); its enums of
 *   webhook event names and API versions are those of the `stripe` package's types); an invalid one
 *   is answered 400 and kept in `invalidRequests`;
 * - `Stripe-Version`: "you can override the API version on specific requests by sending a
 *   Stripe-Version header" (https://docs.stripe.com/api/versioning); an unknown version is refused
 *   (400), a request without one gets the account's default version (`ACCOUNT_DEFAULT_VERSION`,
 *   older than the package's), and events delivered to an endpoint are rendered in its
 *   `api_version` ("Events sent to this endpoint will be generated with this Stripe Version instead
 *   of your account's default Stripe Version", webhook_endpoints create, `api_version`).
 * Errors: `{"error": {"type", "message", "param"?, "code"?}}`.
 */
const EVENT_PARAMS = new Set(['created', 'delivery_success', 'ending_before', 'limit', 'starting_after', 'type', 'types', 'expand']);
const ENDPOINT_PARAMS = new Set(['url', 'enabled_events', 'description', 'api_version', 'metadata', 'connect', 'expand']);
/** The version the installed `stripe` package's types are generated for. */
export const PACKAGE_API_VERSION = Stripe.API_VERSION;
/** What an account created long ago still defaults to: requests without Stripe-Version get it. */
export const ACCOUNT_DEFAULT_VERSION = '2020-08-27';
const STRIPE_OPENAPI = new URL('./openapi-subset.json', import.meta.url).pathname;
const OBJECT_PREFIX: Record<string, string> = { customer: 'cus', invoice: 'in', charge: 'ch', subscription: 'sub' };
/** The event name prefix of each object (subscriptions are customer.subscription.*). */
const EVENT_PREFIX: Record<string, string> = { customer: 'customer', invoice: 'invoice', charge: 'charge', subscription: 'customer.subscription' };

export interface StripeEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  data: { object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };
  livemode: false;
  pending_webhooks: number;
  request: { id: null; idempotency_key: null };
  type: string;
}
export interface WebhookEndpoint {
  id: string;
  /** The version events are rendered in for this endpoint (the account's default when not given). */
  api_version: string;
  /** Mutable: tests point an endpoint made with a placeholder public URL at the gateway's real port. */
  url: string;
  enabled_events: string[];
  secret: string;
}

const error = (status: number, type: string, message: string, extra: Record<string, unknown> = {}): CannedResponse => ({
  status,
  body: { error: { type, message, ...extra } },
});
const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;

export class StripeProvider extends ProviderEmulator {
  /** Newest last; listed newest first. */
  readonly events: StripeEvent[] = [];
  readonly endpoints = new Map<string, WebhookEndpoint>();
  /** `apiVersion`: the version the delivered payload was rendered in (the endpoint's). */
  readonly deliveries: Array<{ event: StripeEvent; endpoint: string; apiVersion: string; status: number }> = [];
  readonly invalidRequests: Array<{ request: RecordedRequest; errors: string[] }> = [];
  /** The API version each request was answered in (Stripe-Version, else the account's default). */
  readonly versions: string[] = [];
  /** Called before a follow-up page (one with `starting_after`) is answered: tests make changes mid-listing. */
  beforeNextPage?: () => void;
  private readonly objects = new Map<string, Record<string, unknown>>();
  private readonly stripe = new Stripe('sk_test_emulator');

  private constructor(
    provider: EmulatedProvider,
    readonly apiKey: string,
  ) {
    super(provider);
  }

  static async start(o: { apiKey: string }): Promise<StripeProvider> {
    const provider = await EmulatedProvider.start();
    const stripe = new StripeProvider(provider, o.apiKey);
    const description = await openApiFromPackage(STRIPE_OPENAPI);
    const known = new Set((stripeVersions(description.definition) ?? []).concat(ACCOUNT_DEFAULT_VERSION));
    provider.inspect = (req) => {
      const verdict = validateRequest(description, req, '', 'brackets');
      if (verdict.errors.length) {
        stripe.invalidRequests.push({ request: req, errors: verdict.errors });
        return error(400, 'invalid_request_error', verdict.errors.join('; '));
      }
      const version = req.headers['stripe-version'];
      if (typeof version === 'string' && !known.has(version)) return error(400, 'invalid_request_error', `Invalid Stripe API version: ${version}`);
      if (req.headers.authorization !== `Bearer ${o.apiKey}`)
        return error(401, 'invalid_request_error', `Invalid API Key provided: ${String(req.headers.authorization ?? '').slice(7, 15)}****`);
      stripe.versions.push(typeof version === 'string' ? version : ACCOUNT_DEFAULT_VERSION);
      return undefined;
    };
    provider.route('GET', '/v1/events', (req) => stripe.listEvents(req));
    provider.route('POST', '/v1/webhook_endpoints', (req) => stripe.createEndpoint(req));
    provider.route('DELETE', '/v1/webhook_endpoints/:id', (req) => stripe.deleteEndpoint(req.params.id));
    return stripe;
  }

  // -------------------------------------------------------------------------------------------
  // Changes

  async create(object: 'customer' | 'invoice' | 'charge' | 'subscription', fields: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const record: Record<string, unknown> = { id: id(OBJECT_PREFIX[object]), object, created: this.seconds(), livemode: false, metadata: {}, ...fields };
    this.objects.set(String(record.id), record);
    // Charges have no `created` event: Stripe announces a new charge by its outcome.
    await this.emit(object === 'charge' ? `charge.${String(record.status ?? 'succeeded')}` : `${EVENT_PREFIX[object]}.created`, record);
    return record;
  }

  /** Updates the object; `eventName` is the suffix (`updated` by default, e.g. `paid` for invoices). */
  async update(objectId: string, fields: Record<string, unknown>, eventName = 'updated'): Promise<Record<string, unknown>> {
    const record = this.object(objectId);
    const previous = Object.fromEntries(Object.keys(fields).map((k) => [k, record[k] ?? null]));
    Object.assign(record, fields);
    await this.emit(`${EVENT_PREFIX[String(record.object)]}.${eventName}`, record, previous);
    return record;
  }

  async remove(objectId: string): Promise<void> {
    const record = this.object(objectId);
    this.objects.delete(objectId);
    await this.emit(`${EVENT_PREFIX[String(record.object)]}.deleted`, { ...record, deleted: true });
  }

  private object(objectId: string): Record<string, unknown> {
    const record = this.objects.get(objectId);
    if (!record) throw new Error(`no Stripe object ${objectId}`);
    return record;
  }

  private seconds(): number {
    return Math.floor(this.provider.now() / 1000);
  }

  private async emit(type: string, object: Record<string, unknown>, previous?: Record<string, unknown>): Promise<StripeEvent> {
    const targets = [...this.endpoints.values()].filter((e) => e.enabled_events.some((name) => matches(name, type)));
    const event: StripeEvent = {
      id: id('evt'),
      object: 'event',
      api_version: ACCOUNT_DEFAULT_VERSION,
      created: this.seconds(),
      data: { object: structuredClone(object), ...(previous ? { previous_attributes: previous } : {}) },
      livemode: false,
      pending_webhooks: targets.length,
      request: { id: null, idempotency_key: null },
      type,
    };
    this.events.push(event);
    for (const endpoint of targets)
      this.deliveries.push({ event, endpoint: endpoint.id, apiVersion: endpoint.api_version, status: await this.deliver(endpoint, event) });
    return event;
  }

  /** POSTs an event to an endpoint, signed by the stripe library; `timestamp` (unix s) defaults to now. */
  async deliver(endpoint: WebhookEndpoint, event: StripeEvent, timestamp = this.seconds()): Promise<number> {
    const payload = JSON.stringify({ ...event, api_version: endpoint.api_version }, null, 2);
    const signature = this.stripe.webhooks.generateTestHeaderString({ payload, secret: endpoint.secret, timestamp });
    const res = await got.post(endpoint.url, {
      body: payload,
      throwHttpErrors: false,
      retry: { limit: 0 },
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
        'stripe-signature': signature,
      },
    });
    return res.statusCode;
  }

  // -------------------------------------------------------------------------------------------
  // REST endpoints

  private listEvents(req: RouteRequest): CannedResponse {
    const params = parseQuery(req);
    const unknown = Object.keys(params).find((k) => !EVENT_PARAMS.has(k));
    if (unknown) return error(400, 'invalid_request_error', `Received unknown parameter: ${unknown}`, { param: unknown });
    if (params.type !== undefined && params.types !== undefined)
      return error(400, 'invalid_request_error', 'You may only specify one of these parameters: type, types.', { param: 'types' });
    const types = params.types === undefined ? undefined : Object.values(params.types as Record<string, string> | string[]);
    if (types && types.length > 20) return error(400, 'invalid_request_error', 'types may contain at most 20 event names', { param: 'types' });
    const limit = params.limit === undefined ? 10 : Number(params.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100)
      return error(400, 'invalid_request_error', 'Invalid integer: limit must be between 1 and 100', { param: 'limit' });
    const created = createdFilter(params.created);
    if (typeof created === 'string') return error(400, 'invalid_request_error', created, { param: 'created' });
    if (params.starting_after !== undefined) this.beforeNextPage?.();

    let rows = [...this.events]
      .reverse()
      .filter((e) => (params.type === undefined || matches(String(params.type), e.type)) && (!types || types.includes(e.type)))
      .filter(created);
    for (const [cursor, after] of [
      [params.starting_after, true],
      [params.ending_before, false],
    ] as const) {
      if (cursor === undefined) continue;
      const at = rows.findIndex((e) => e.id === cursor);
      if (at === -1)
        return error(400, 'invalid_request_error', `No such event: '${String(cursor)}'`, {
          param: after ? 'starting_after' : 'ending_before',
          code: 'resource_missing',
        });
      rows = after ? rows.slice(at + 1) : rows.slice(0, at);
    }
    return {
      status: 200,
      headers: { 'request-id': id('req'), 'stripe-version': String(req.headers['stripe-version'] ?? ACCOUNT_DEFAULT_VERSION) },
      body: { object: 'list', url: '/v1/events', has_more: rows.length > limit, data: rows.slice(0, limit) },
    };
  }

  private createEndpoint(req: RouteRequest): CannedResponse {
    // Stripe reads form bodies only: a JSON body carries no parameters.
    const form = String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded') ? qs.parse(req.body) : {};
    const unknown = Object.keys(form).find((k) => !ENDPOINT_PARAMS.has(k));
    if (unknown) return error(400, 'invalid_request_error', `Received unknown parameter: ${unknown}`, { param: unknown });
    if (typeof form.url !== 'string' || !form.url) return error(400, 'invalid_request_error', 'Missing required param: url.', { param: 'url' });
    const events = form.enabled_events === undefined ? [] : Object.values(form.enabled_events as Record<string, string>);
    if (events.length === 0) return error(400, 'invalid_request_error', 'Missing required param: enabled_events.', { param: 'enabled_events' });
    const endpoint: WebhookEndpoint = {
      id: id('we'),
      api_version: typeof form.api_version === 'string' ? form.api_version : ACCOUNT_DEFAULT_VERSION,
      url: form.url,
      enabled_events: events.map(String),
      secret: `whsec_${randomBytes(24).toString('hex')}`,
    };
    this.endpoints.set(endpoint.id, endpoint);
    return {
      status: 200,
      body: {
        id: endpoint.id,
        object: 'webhook_endpoint',
        api_version: form.api_version ?? null,
        application: null,
        created: this.seconds(),
        description: form.description ?? null,
        enabled_events: endpoint.enabled_events,
        livemode: false,
        metadata: {},
        secret: endpoint.secret,
        status: 'enabled',
        url: endpoint.url,
      },
    };
  }

  private deleteEndpoint(endpointId: string): CannedResponse {
    if (!this.endpoints.delete(endpointId))
      return error(404, 'invalid_request_error', `No such webhook endpoint: '${endpointId}'`, { param: 'id', code: 'resource_missing' });
    return { status: 200, body: { id: endpointId, object: 'webhook_endpoint', deleted: true } };
  }
}

/** The API versions the description lists (the enum of a webhook endpoint's `api_version`). */
function stripeVersions(definition: unknown): string[] | undefined {
  const d = definition as {
    paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: Record<string, { enum?: string[] }> } }> } }>>;
  };
  return d.paths['/v1/webhook_endpoints']?.post?.requestBody?.content['application/x-www-form-urlencoded']?.schema.properties.api_version?.enum;
}

/** Stripe's bracket syntax (`created[gte]=1`, `types[0]=a`) read back into objects. */
function parseQuery(req: RecordedRequest): Record<string, unknown> {
  return qs.parse(new URLSearchParams(req.query).toString());
}

/** `*` matches everything; `customer.*` every event under `customer.`. */
function matches(pattern: string, type: string): boolean {
  if (pattern === '*') return true;
  return pattern.endsWith('.*') ? type.startsWith(pattern.slice(0, -1)) : pattern === type;
}

function createdFilter(created: unknown): ((e: StripeEvent) => boolean) | string {
  if (created === undefined) return () => true;
  const bounds = typeof created === 'object' && created !== null ? (created as Record<string, string>) : { eq: String(created) };
  const tests: Array<(t: number) => boolean> = [];
  for (const [op, raw] of Object.entries(bounds)) {
    const n = Number(raw);
    if (!/^\d+$/.test(String(raw))) return `Invalid timestamp: created[${op}] must be a unix timestamp`;
    const test = { eq: (t: number) => t === n, gt: (t: number) => t > n, gte: (t: number) => t >= n, lt: (t: number) => t < n, lte: (t: number) => t <= n }[op];
    if (!test) return `Received unknown parameter: created[${op}]`;
    tests.push(test);
  }
  return (e) => tests.every((test) => test(e.created));
}
