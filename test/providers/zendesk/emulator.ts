import { createHmac, randomUUID } from 'node:crypto';
import got from 'got';
import {
  EmulatedProvider,
  type CannedResponse,
  type Collection,
  type ProviderRecord,
  type RecordedRequest,
  type RouteRequest,
} from '../../../sandbox/provider-server.js';
import { openApiFromPackage, validateRequest } from '../openapi-validator.js';
import { RateWindow, isoSeconds } from '../provider-api.js';
import { USER_EVENT_TYPES, isZendeskSubscription } from './event-types.js';

/**
 * Zendesk Support as developer.zendesk.com documents it: basic auth `{email}/token:{api_token}`
 * (or an OAuth bearer token); the cursor-based incremental exports
 * `GET /api/v2/incremental/tickets/cursor` and `/users/cursor` (`start_time` in Unix seconds on the
 * first request, then the `after_url` / `cursor`; deleted tickets listed with status `deleted`
 * unless `exclude_deleted=true`); dates in UTC whole seconds; `X-Rate-Limit` /
 * `X-Rate-Limit-Remaining` headers and 429 with `Retry-After`; the Webhooks API
 * (`POST /api/v2/webhooks`, `GET /api/v2/webhooks/{id}/signing_secret`, `DELETE /api/v2/webhooks/{id}`)
 * and signed webhook requests (`X-Zendesk-Webhook-Signature` = base64 HMAC-SHA256 of timestamp + body).
 * Every request to the exports is first checked against the operations of Zendesk's published
 * OpenAPI description (`openapi-subset.json`, written by scripts/openapi-subset.ts, recipe
 * scripts/openapi-subsets/zendesk.ts): an invalid one is answered 400 and kept in
 * `invalidRequests`. The description has no Webhooks API, so those requests are checked by hand.
 * The rules of the exports, each from Zendesk's pages:
 * - INCREMENTAL_PAGE (https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/):
 *   "You can make up to 10 requests per minute to these endpoints." — `EXPORT_RATE`;
 *   `end_of_stream`: "true if the current request has returned all the results up to the current
 *   time; false otherwise".
 * - USING_PAGE (https://developer.zendesk.com/documentation/ticketing/managing-tickets/using-the-incremental-export-api):
 *   "any items that were created or changed within the minute prior to your request are excluded";
 *   "The API will return all the items that were created or changed on or after the start time."
 * - The description's `start_time` parameter (OptionalIncrementalUnixTime): "Must be at least one
 *   minute in the past. Data isn't provided for the most recent minute."
 * Unknown query parameters answer 400 (through the description's parameter lists).
 */
const ZENDESK_OPENAPI = new URL('./openapi-subset.json', import.meta.url).pathname;

export interface ZendeskWebhook {
  id: string;
  name: string;
  endpoint: string;
  http_method: string;
  request_format: string;
  status: string;
  subscriptions: string[];
  secret: string;
}

export class ZendeskEmulator {
  readonly tickets: Collection;
  readonly users: Collection;
  readonly webhooks = new Map<string, ZendeskWebhook>();
  /** INCREMENTAL_PAGE: "You can make up to 10 requests per minute to these endpoints." */
  readonly exportRate: RateWindow;
  readonly invalidRequests: Array<{ request: RecordedRequest; errors: string[] }> = [];

  private constructor(
    readonly provider: EmulatedProvider,
    readonly email: string,
    readonly apiToken: string,
  ) {
    this.tickets = provider.collection('tickets');
    this.users = provider.collection('users');
    this.exportRate = new RateWindow(10, 60_000, () => provider.now());
    provider.requireAuth = { type: 'basic', username: `${email}/token`, password: apiToken };
    provider.unauthorized = { status: 401, body: { error: "Couldn't authenticate you" } };
    provider.route('GET', '/api/v2/incremental/tickets/cursor', (req) => this.export(req, this.tickets, 'tickets'));
    provider.route('GET', '/api/v2/incremental/users/cursor', (req) => this.export(req, this.users, 'users'));
    provider.route('POST', '/api/v2/webhooks', (req) => this.createWebhook(req));
    provider.route('GET', '/api/v2/webhooks/:id/signing_secret', (req) => {
      const hook = this.webhooks.get(req.params.id);
      return hook ? { status: 200, body: { signing_secret: { algorithm: 'SHA256', secret: hook.secret } } } : notFound();
    });
    provider.route('DELETE', '/api/v2/webhooks/:id', (req) => (this.webhooks.delete(req.params.id) ? { status: 204 } : notFound()));
  }

  static async start(email = 'agent@example.com', apiToken = 'zd-api-token-123'): Promise<ZendeskEmulator> {
    const zendesk = new ZendeskEmulator(await EmulatedProvider.start(), email, apiToken);
    const description = await openApiFromPackage(ZENDESK_OPENAPI);
    zendesk.provider.inspect = (req) => {
      if (!req.path.startsWith('/api/v2/incremental/')) return undefined;
      const verdict = validateRequest(description, req);
      if (!verdict.errors.length) return undefined;
      zendesk.invalidRequests.push({ request: req, errors: verdict.errors });
      return { status: 400, body: { error: 'InvalidValue', description: verdict.errors.join('; ') } };
    };
    return zendesk;
  }

  get baseUrl(): string {
    return `${this.provider.url}/api/v2`;
  }

  throttleNext(n: number, retryAfterSeconds: number): void {
    this.provider.failNext(
      n,
      {
        status: 429,
        headers: { 'retry-after': String(retryAfterSeconds), 'x-rate-limit': '10', 'x-rate-limit-remaining': '0' },
        body: { error: 'APIRateLimitExceeded', description: 'Number of allowed incremental export API requests per minute exceeded' },
      },
      { path: '/api/v2/incremental/' },
    );
  }

  /** Sends a user event to every active webhook subscribed to it, signed as Zendesk signs. */
  async pushUserEvent(type: string, user: ProviderRecord, signWith?: string): Promise<number[]> {
    if (!(USER_EVENT_TYPES as readonly string[]).includes(type)) throw new Error(`Zendesk sends no user event ${type}`);
    const statuses: number[] = [];
    for (const hook of this.webhooks.values()) {
      if (hook.status !== 'active' || !hook.subscriptions.includes(type)) continue;
      const timestamp = isoSeconds(new Date(this.provider.now()).toISOString());
      const body = JSON.stringify({
        type,
        account_id: 12514403,
        id: randomUUID(),
        time: timestamp,
        zendesk_event_version: '2022-06-20',
        subject: `zen:user:${user.id}`,
        detail: { ...shape(user), id: String(user.id) },
        event: {},
      });
      const signature = createHmac('sha256', signWith ?? hook.secret)
        .update(timestamp + body)
        .digest('base64');
      const res = await got.post(hook.endpoint, {
        body,
        throwHttpErrors: false,
        retry: { limit: 0 },
        headers: {
          'content-type': 'application/json',
          'x-zendesk-webhook-id': hook.id,
          'x-zendesk-webhook-invocation-id': randomUUID(),
          'x-zendesk-webhook-signature': signature,
          'x-zendesk-webhook-signature-timestamp': timestamp,
        },
      });
      statuses.push(res.statusCode);
    }
    return statuses;
  }

  close(): Promise<void> {
    return this.provider.close();
  }

  private export(req: RouteRequest, collection: Collection, key: 'tickets' | 'users'): CannedResponse {
    const usage = this.exportRate.take();
    const headers = { 'x-rate-limit': String(this.exportRate.limit), 'x-rate-limit-remaining': String(usage.remaining) };
    if (usage.used > this.exportRate.limit) {
      const retryAfter = Math.max(1, Math.ceil((usage.resetAt - this.provider.now()) / 1000));
      return {
        status: 429,
        headers: { ...headers, 'retry-after': String(retryAfter) },
        body: { error: 'APIRateLimitExceeded', description: 'Number of allowed incremental export API requests per minute exceeded' },
      };
    }
    const q = req.query;
    const bad = (description: string): CannedResponse => ({ status: 400, headers, body: { error: 'InvalidValue', description } });
    const perPage = q.per_page === undefined ? 1000 : Number(q.per_page);
    if (perPage < 1 || perPage > 1000) return bad('per_page must be an integer between 1 and 1000');
    const now = this.provider.now();
    let after: { t: number; id: number };
    if (q.cursor !== undefined) {
      const decoded = decodeCursor(q.cursor);
      if (!decoded) return bad('Invalid cursor');
      after = decoded;
    } else if (q.start_time !== undefined) {
      // The description's start_time: "Must be at least one minute in the past."
      if (Number(q.start_time) * 1000 > now - 60_000) return bad('start_time must be at least one minute in the past');
      // USING_PAGE: items changed "on or after the start time": start just before it.
      after = { t: Number(q.start_time) * 1000 - 1, id: Number.MAX_SAFE_INTEGER };
    } else {
      return bad('start_time or cursor is required');
    }
    // USING_PAGE: "items that were created or changed within the minute prior to your request are excluded".
    const until = now - 60_000;
    const rows = collection.all().filter((r) => {
      const t = Date.parse(r.updated_at);
      if (t > until) return false;
      if (t < after.t || (t === after.t && Number(r.id) <= after.id)) return false;
      return !(key === 'tickets' && q.exclude_deleted === 'true' && r.status === 'deleted');
    });
    const page = rows.slice(0, perPage);
    const last = page[page.length - 1];
    const cursor = encodeCursor(last ? { t: Date.parse(last.updated_at), id: Number(last.id) } : after);
    const afterUrl = `${this.provider.url}${req.path}?cursor=${encodeURIComponent(cursor)}`;
    return {
      status: 200,
      headers,
      // INCREMENTAL_PAGE end_of_stream: true once this answer holds every result up to now.
      body: { [key]: page.map(shape), after_url: afterUrl, after_cursor: cursor, before_url: null, before_cursor: null, end_of_stream: rows.length <= perPage },
    };
  }

  private createWebhook(req: RouteRequest): CannedResponse {
    const w = (req.json as { webhook?: Partial<ZendeskWebhook> } | undefined)?.webhook;
    const problems: string[] = [];
    if (!w) return { status: 400, body: { errors: [{ code: 'InvalidInput', title: 'Invalid input', detail: 'webhook is required' }] } };
    for (const field of ['name', 'endpoint', 'http_method', 'request_format', 'status'] as const)
      if (typeof w[field] !== 'string' || !w[field]) problems.push(`${field} is required`);
    if (w.subscriptions?.length && (w.http_method !== 'POST' || w.request_format !== 'json')) problems.push('subscribed webhooks must use POST and json');
    // Only the event types Zendesk lists (event-types.ts cites the pages); the error body is ours.
    for (const s of w.subscriptions ?? []) if (!isZendeskSubscription(s)) problems.push(`unknown subscription ${s}`);
    if (problems.length) return { status: 400, body: { errors: problems.map((detail) => ({ code: 'InvalidInput', title: 'Invalid input', detail })) } };
    const hook: ZendeskWebhook = {
      id: `01${randomUUID().replace(/-/g, '').slice(0, 24).toUpperCase()}`,
      name: w.name!,
      endpoint: w.endpoint!,
      http_method: w.http_method!,
      request_format: w.request_format!,
      status: w.status!,
      subscriptions: w.subscriptions ?? [],
      secret: randomUUID().replace(/-/g, ''),
    };
    this.webhooks.set(hook.id, hook);
    const { secret: _secret, ...shown } = hook;
    return { status: 201, body: { webhook: { ...shown, created_at: isoSeconds(new Date(this.provider.now()).toISOString()) } } };
  }
}

function notFound(): CannedResponse {
  return { status: 404, body: { errors: [{ code: 'WebhookNotFound', title: 'Webhook not found' }] } };
}

function shape(r: ProviderRecord): Record<string, unknown> {
  return { ...r, created_at: isoSeconds(r.created_at), updated_at: isoSeconds(r.updated_at), generated_timestamp: Math.floor(Date.parse(r.updated_at) / 1000) };
}

function encodeCursor(position: { t: number; id: number }): string {
  return Buffer.from(`${position.t}|${position.id}`).toString('base64');
}

function decodeCursor(cursor: string): { t: number; id: number } | undefined {
  const m = /^(-?\d+)\|(\d+)$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
  return m ? { t: Number(m[1]), id: Number(m[2]) } : undefined;
}
