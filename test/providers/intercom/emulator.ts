import { createHmac } from 'node:crypto';
import { tz } from '@date-fns/tz';
import { addDays, startOfDay } from 'date-fns';
import got from 'got';
import {
  EmulatedProvider,
  type CannedResponse,
  type Collection,
  type ProviderRecord,
  type RecordedRequest,
  type RouteRequest,
} from '../../../sandbox/provider-server.js';
import { RateWindow } from '../provider-api.js';
import { openApiFromPackage, validateRequest } from '../openapi-validator.js';

/**
 * Intercom's REST API as developers.intercom.com documents it: bearer access token;
 * `POST /contacts/search` and `POST /conversations/search` with a body of `query`
 * (`{field, operator, value}` or `{operator: "AND"|"OR", value: [...]}`), `pagination`
 * (`per_page` ≤ 150, default 50; `starting_after` from `pages.next.starting_after`) and `sort`;
 * dates in Unix seconds; string ids; errors as `{"type": "error.list", "errors": [{code,
 * message}]}` (401 `unauthorized`, 400 `parameter_invalid`); `X-RateLimit-Limit`,
 * `X-RateLimit-Remaining`, `X-RateLimit-Reset` (epoch seconds) and 429; app webhooks signed with
 * `X-Hub-Signature: sha1=<hex HMAC-SHA1 of the body with the app's client secret>`.
 *
 * Every request is first validated with openapi-backend against Intercom's own description of the
 * API version the connector pins (openapi-subset.json, cut by scripts/openapi-subset.ts with the
 * intercom recipe from https://github.com/intercom/Intercom-OpenAPI descriptions/2.11): an invalid
 * one is answered 400 and recorded in `invalidRequests`. The rules quoted below are that
 * description's own prose of POST /contacts/search and POST /conversations/search.
 */
export const INTERCOM_OPENAPI = new URL('./openapi-subset.json', import.meta.url).pathname;
const OPERATORS = ['=', '!=', 'IN', 'NIN', '>', '<', '>=', '<=', '~', '!~', '^', '$'];
/**
 * "The `!=`, `>=`, `<=`, `IN` and `NIN` operators are not supported on Date fields and return an error."
 */
const DATE_OPERATORS = ['=', '>', '<'];
/** "The default is `50` results per page" (contacts); "The default is `20` results per page and maximum is `150`" (conversations). */
const PER_PAGE = { contact: { default: 50, max: 150 }, conversation: { default: 20, max: 150 } };

type Query = { field?: unknown; operator?: unknown; value?: unknown };

export class IntercomEmulator {
  readonly contacts: Collection;
  readonly conversations: Collection;
  readonly rate: RateWindow;
  readonly invalidRequests: Array<{ request: RecordedRequest; errors: string[] }> = [];
  /**
   * The workspace's time zone: "Timestamp fields (`created_at`, `updated_at` etc.) … are matched by
   * calendar day. … The day boundary uses **your workspace's timezone**".
   */
  timeZone = 'UTC';
  /**
   * Contacts only: "If a contact has recently been created, there is a possibility that it will not
   * yet be available when searching. … This delay can take a few minutes." 0 unless a test sets it.
   */
  contactIndexLagMs = 0;

  private constructor(
    readonly provider: EmulatedProvider,
    readonly token: string,
  ) {
    this.contacts = provider.collection('contacts');
    this.conversations = provider.collection('conversations');
    // 10,000 calls a minute per app, counted over 10-second windows.
    this.rate = new RateWindow(1666, 10_000, () => provider.now());
    provider.requireAuth = { type: 'bearer', token };
    provider.unauthorized = {
      status: 401,
      body: { type: 'error.list', request_id: 'req-401', errors: [{ code: 'unauthorized', message: 'Access Token Invalid' }] },
    };
    provider.route('POST', '/contacts/search', (req) => this.search(req, this.contacts, 'contact'));
    provider.route('POST', '/conversations/search', (req) => this.search(req, this.conversations, 'conversation'));
  }

  static async start(token = 'ic-access-token-123'): Promise<IntercomEmulator> {
    const ic = new IntercomEmulator(await EmulatedProvider.start(), token);
    const description = await openApiFromPackage(INTERCOM_OPENAPI);
    ic.provider.inspect = (req) => {
      const { errors } = validateRequest(description, req);
      if (!errors.length) return undefined;
      ic.invalidRequests.push({ request: req, errors });
      return { status: 400, body: { type: 'error.list', request_id: 'req-400', errors: [{ code: 'parameter_invalid', message: errors.join('; ') }] } };
    };
    return ic;
  }

  get baseUrl(): string {
    return this.provider.url;
  }

  throttleNext(n: number): void {
    const reset = Math.ceil(this.provider.now() / 1000) + 10;
    this.provider.failNext(n, {
      status: 429,
      headers: { 'x-ratelimit-limit': String(this.rate.limit), 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) },
      body: { type: 'error.list', request_id: 'req-429', errors: [{ code: 'rate_limit_exceeded', message: 'Exceeded rate limit of 1666 in 10_seconds' }] },
    });
  }

  /** Posts an app webhook notification to `url`, signed with `clientSecret` as Intercom signs. */
  async notify(url: string, topic: string, item: ProviderRecord, clientSecret: string) {
    const body = JSON.stringify({
      type: 'notification_event',
      app_id: 'abc123',
      topic,
      id: `notif_${item.id}_${topic}`,
      created_at: Math.floor(this.provider.now() / 1000),
      delivery_attempts: 1,
      first_sent_at: Math.floor(this.provider.now() / 1000),
      data: { type: 'notification_event_data', item: shape(item, topic.split('.')[0]) },
    });
    const signature = `sha1=${createHmac('sha1', clientSecret).update(body).digest('hex')}`;
    return got.post(url, { body, headers: { 'content-type': 'application/json', 'x-hub-signature': signature }, throwHttpErrors: false, retry: { limit: 0 } });
  }

  close(): Promise<void> {
    return this.provider.close();
  }

  private search(req: RouteRequest, collection: Collection, type: 'contact' | 'conversation'): CannedResponse {
    const usage = this.rate.take();
    const headers = {
      'x-ratelimit-limit': String(this.rate.limit),
      'x-ratelimit-remaining': String(usage.remaining),
      'x-ratelimit-reset': String(Math.ceil(usage.resetAt / 1000)),
    };
    const invalid = (message: string): CannedResponse => ({
      status: 400,
      headers,
      body: { type: 'error.list', request_id: 'req-400', errors: [{ code: 'parameter_invalid', message }] },
    });
    const body = req.json as
      | { query?: Query; pagination?: { per_page?: unknown; starting_after?: unknown }; sort?: { field?: unknown; order?: unknown } }
      | undefined;
    if (!body || typeof body !== 'object') return invalid('Search body is required');
    const extra = Object.keys(body).filter((k) => !['query', 'pagination', 'sort'].includes(k));
    if (extra.length) return invalid(`Unknown parameter ${extra.join(', ')}`);
    if (!body.query) return invalid('query is required');
    let predicate: (r: Record<string, unknown>) => boolean;
    try {
      predicate = compile(body.query, this.timeZone);
    } catch (err) {
      return invalid((err as Error).message);
    }
    const perPage = body.pagination?.per_page ?? PER_PAGE[type].default;
    if (!Number.isInteger(perPage) || (perPage as number) < 1 || (perPage as number) > PER_PAGE[type].max)
      return invalid(`per_page must be an integer between 1 and ${PER_PAGE[type].max}`);
    let start = 0;
    if (body.pagination?.starting_after !== undefined) {
      const decoded = /^pos:(\d+)$/.exec(Buffer.from(String(body.pagination.starting_after), 'base64').toString('utf8'));
      if (!decoded) return invalid('starting_after is not valid');
      start = Number(decoded[1]);
    }
    const sortField = body.sort?.field ?? 'updated_at';
    const descending = body.sort?.order === 'descending';
    if (body.sort?.order !== undefined && !['ascending', 'descending'].includes(String(body.sort.order)))
      return invalid('sort order must be ascending or descending');

    const searchableBefore = this.provider.now() - (type === 'contact' ? this.contactIndexLagMs : 0);
    const rows = collection
      .all()
      .filter((r) => Date.parse(r.created_at) <= searchableBefore)
      .map((r) => shape(r, type))
      .filter(predicate)
      .sort(
        (a, b) =>
          (Number(a[String(sortField)]) - Number(b[String(sortField)])) * (descending ? -1 : 1) ||
          String(a.id).localeCompare(String(b.id), undefined, { numeric: true }),
      );
    const page = rows.slice(start, start + (perPage as number));
    const totalPages = Math.max(1, Math.ceil(rows.length / (perPage as number)));
    const pageNumber = Math.floor(start / (perPage as number)) + 1;
    const next =
      start + (perPage as number) < rows.length
        ? { page: pageNumber + 1, starting_after: Buffer.from(`pos:${start + (perPage as number)}`).toString('base64') }
        : undefined;
    const pages = { type: 'pages', ...(next ? { next } : {}), page: pageNumber, per_page: perPage, total_pages: totalPages };
    const list = type === 'contact' ? { type: 'list', data: page } : { type: 'conversation.list', conversations: page };
    return { status: 200, headers, body: { ...list, total_count: rows.length, pages } };
  }
}

/** Intercom's search query: one `{field, operator, value}` or nested AND/OR groups. */
function compile(q: Query, timeZone: string): (r: Record<string, unknown>) => boolean {
  if (q.operator === 'AND' || q.operator === 'OR') {
    if (!Array.isArray(q.value) || q.value.length === 0) throw new Error(`${q.operator} needs a list of queries`);
    const parts = q.value.map((v) => compile(v as Query, timeZone));
    return q.operator === 'AND' ? (r) => parts.every((p) => p(r)) : (r) => parts.some((p) => p(r));
  }
  if (typeof q.field !== 'string' || !q.field) throw new Error('query field is required');
  if (typeof q.operator !== 'string' || !OPERATORS.includes(q.operator)) throw new Error(`operator "${String(q.operator)}" is not supported`);
  const field = q.field;
  if (/_at$/.test(field)) return compileDate(field, q.operator, q.value, timeZone);
  const value = q.value;
  switch (q.operator) {
    case '>':
      return (r) => Number(r[field]) > Number(value);
    case '<':
      return (r) => Number(r[field]) < Number(value);
    case '=':
      return (r) => r[field] === value;
    case '!=':
      return (r) => r[field] !== value;
    default:
      throw new Error(`operator "${q.operator}" is not emulated`);
  }
}

/**
 * A date comparison as the description's "Searching for Timestamp Fields" says: "Sub-day precision
 * (hour, minute, second) is not supported. … Because the value is truncated to a day: `=` matches
 * the whole day. `>` matches from the start of the *next* day, not from the instant you passed.
 * `<` matches everything before the start of that day." Days in the workspace's time zone.
 */
function compileDate(field: string, operator: string, raw: unknown, timeZone: string): (r: Record<string, unknown>) => boolean {
  // "the value cannot be a string such as "foorbar"": Unix seconds, as an integer or a numeric string.
  if (!(Number.isInteger(raw) || (typeof raw === 'string' && /^\d+$/.test(raw)))) throw new Error(`${field} must be compared with a Unix timestamp in seconds`);
  if (!DATE_OPERATORS.includes(operator)) throw new Error(`operator "${operator}" is not supported on date field ${field}`);
  const inZone = { in: tz(timeZone) };
  const dayStart = startOfDay(Number(raw) * 1000, inZone).getTime();
  const nextDay = addDays(dayStart, 1, inZone).getTime();
  const at = (r: Record<string, unknown>) => Number(r[field]) * 1000;
  if (operator === '>') return (r) => at(r) >= nextDay;
  if (operator === '<') return (r) => at(r) < dayStart;
  return (r) => at(r) >= dayStart && at(r) < nextDay;
}

/** Intercom's record shape: `type`, string id, Unix-second dates. */
function shape(r: ProviderRecord, type: string): Record<string, unknown> {
  return { ...r, type, id: String(r.id), created_at: Math.floor(Date.parse(r.created_at) / 1000), updated_at: Math.floor(Date.parse(r.updated_at) / 1000) };
}
