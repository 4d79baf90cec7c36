import { EmulatedProvider, type CannedResponse, type Collection, type ProviderRecord, type RouteRequest } from '../../../sandbox/provider-server.js';
import { RateWindow, isoSeconds, parseIsoParam, unknownParams } from '../provider-api.js';

/**
 * Freshdesk API v2 as its documentation describes it (developers.freshdesk.com/api): basic auth
 * with the API key as user name and `X` as password; `GET /api/v2/tickets` (`updated_since`,
 * `order_by`, `order_type`, `filter`, `page` ≤ 300, `per_page` ≤ 100, next page in `Link`; without
 * `updated_since` only tickets created in the last 30 days; deleted tickets only with
 * `filter=deleted`); `GET /api/v2/contacts` (`_updated_since`, `state`); dates in whole seconds, UTC
 * (`2026-11-25T10:00:00Z`); `X-RateLimit-Total` / `-Remaining` / `-Used-CurrentRequest` on every
 * answer and 429 with `Retry-After`. Errors in Freshdesk's shapes: 401 `{code, message}`, 400
 * `{description: "Validation failed", errors: [{field, message, code}]}`.
 */
/**
 * Freshdesk's API reference, List All Tickets (https://developers.freshdesk.com/api/#list_all_tickets),
 * its notes as SDKs reproduce them verbatim: "1. By default, only tickets that have been created
 * within the past 30 days will be returned. For older tickets, use the updated_since filter
 * 2. A maximum of 300 pages (30000 tickets) will be returned." (Freshworks' community says the
 * same: https://community.freshworks.com/api-and-webhooks-11406/api-freshdesk-40750.)
 */
export const FRESHDESK_MAX_PAGE = 300;
/**
 * The Growth plan's per-minute limits, https://support.freshdesk.com/support/solutions/articles/225439-what-are-the-rate-limits-for-the-api-calls-to-freshdesk:
 * "We're currently moving all Freshdesk accounts from a per-hour limit to a per-minute limit", and
 * for Growth "200" calls per minute with a "Maximum limit per endpoint" of "Tickets List - 20" and
 * "Contacts List - 20". "This limit is applied to your account irrespective of the number of agents
 * you have or IP addresses used to make the calls."
 */
export const FRESHDESK_CALLS_PER_MINUTE = 200;
export const FRESHDESK_LIST_CALLS_PER_MINUTE = 20;
const TICKET_PARAMS = [
  'updated_since',
  'order_by',
  'order_type',
  'filter',
  'page',
  'per_page',
  'include',
  'requester_id',
  'email',
  'company_id',
  'unique_external_id',
];
const CONTACT_PARAMS = ['_updated_since', 'state', 'email', 'mobile', 'phone', 'company_id', 'page', 'per_page'];
const THIRTY_DAYS_MS = 30 * 86_400_000;

type Invalid = { field: string; message: string; code: 'invalid_field' | 'invalid_value' };

export class FreshdeskEmulator {
  readonly tickets: Collection;
  readonly contacts: Collection;
  readonly rate: RateWindow;
  private readonly listRates: Record<'tickets' | 'contacts', RateWindow>;

  private constructor(
    readonly provider: EmulatedProvider,
    readonly apiKey: string,
  ) {
    this.tickets = provider.collection('tickets');
    this.contacts = provider.collection('contacts');
    this.rate = new RateWindow(FRESHDESK_CALLS_PER_MINUTE, 60_000, () => provider.now());
    this.listRates = {
      tickets: new RateWindow(FRESHDESK_LIST_CALLS_PER_MINUTE, 60_000, () => provider.now()),
      contacts: new RateWindow(FRESHDESK_LIST_CALLS_PER_MINUTE, 60_000, () => provider.now()),
    };
    provider.requireAuth = { type: 'basic', username: apiKey, password: 'X' };
    provider.unauthorized = { status: 401, body: { code: 'invalid_credentials', message: 'You have to be logged in to perform this action.' } };
    provider.route('GET', '/api/v2/tickets', (req) => this.list(req, this.tickets, 'tickets'));
    provider.route('GET', '/api/v2/contacts', (req) => this.list(req, this.contacts, 'contacts'));
  }

  static async start(apiKey = 'fd-api-key-123'): Promise<FreshdeskEmulator> {
    return new FreshdeskEmulator(await EmulatedProvider.start(), apiKey);
  }

  /** What an instance puts in `base.url`. */
  get baseUrl(): string {
    return `${this.provider.url}/api/v2`;
  }

  /** The next `n` API calls answer 429 as Freshdesk does when the account's budget is spent. */
  throttleNext(n: number, retryAfterSeconds: number, path = '/api/v2/'): void {
    this.provider.failNext(
      n,
      {
        status: 429,
        headers: { 'retry-after': String(retryAfterSeconds), 'x-ratelimit-total': String(this.rate.limit), 'x-ratelimit-remaining': '0' },
        body: { code: 'rate_limit_exceeded', message: 'You have exceeded the limit of requests per minute' },
      },
      { path },
    );
  }

  /** Deletes a ticket the Freshdesk way: it stays, flagged, and leaves the default listing. */
  deleteTicket(id: number): ProviderRecord {
    return this.tickets.update(id, { deleted: true });
  }

  /** Soft-deletes a contact: listed with `state=deleted` only. */
  deleteContact(id: number): ProviderRecord {
    return this.contacts.update(id, { deleted: true });
  }

  close(): Promise<void> {
    return this.provider.close();
  }

  private list(req: RouteRequest, collection: Collection, kind: 'tickets' | 'contacts'): CannedResponse {
    const usage = this.rate.take();
    const listUsage = this.listRates[kind].take();
    const headers: Record<string, string> = {
      'x-ratelimit-total': String(this.rate.limit),
      'x-ratelimit-remaining': String(usage.remaining),
      'x-ratelimit-used-currentrequest': '1',
    };
    if (usage.used > this.rate.limit || listUsage.used > FRESHDESK_LIST_CALLS_PER_MINUTE) {
      const resetAt = usage.used > this.rate.limit ? usage.resetAt : listUsage.resetAt;
      return {
        status: 429,
        headers: { ...headers, 'retry-after': String(Math.max(1, Math.ceil((resetAt - this.provider.now()) / 1000))) },
        body: { code: 'rate_limit_exceeded', message: 'You have exceeded the limit of requests per minute' },
      };
    }
    const q = req.query;
    const invalid: Invalid[] = unknownParams(req, kind === 'tickets' ? TICKET_PARAMS : CONTACT_PARAMS).map((field) => ({
      field,
      message: 'Unexpected/invalid field in request',
      code: 'invalid_field',
    }));
    const page = wholeNumber(q.page, 1);
    // per_page: 30 by default, at most 100 ("Results per page (1-100, max 100, default 30)", the
    // reference's parameter as listed at https://glama.ai/mcp/connectors/io.usefulapi/freshdesk/tools/freshdesk_list_tickets).
    const perPage = wholeNumber(q.per_page, 30);
    if (page === undefined || page < 1) invalid.push({ field: 'page', message: 'It should be a Positive Number', code: 'invalid_value' });
    else if (page > FRESHDESK_MAX_PAGE)
      invalid.push({ field: 'page', message: `It should be a Positive Number less than or equal to ${FRESHDESK_MAX_PAGE}`, code: 'invalid_value' });
    if (perPage === undefined || perPage < 1 || perPage > 100)
      invalid.push({ field: 'per_page', message: 'It should be a Positive Number less than or equal to 100', code: 'invalid_value' });
    const sinceParam = kind === 'tickets' ? 'updated_since' : '_updated_since';
    const since = q[sinceParam] === undefined ? undefined : parseIsoParam(q[sinceParam]);
    if (q[sinceParam] !== undefined && since === undefined)
      invalid.push({ field: sinceParam, message: "It should be in the 'valid date time' format", code: 'invalid_value' });
    if (kind === 'tickets') {
      if (q.order_by !== undefined && !['created_at', 'due_by', 'updated_at', 'status'].includes(q.order_by))
        invalid.push({ field: 'order_by', message: "It should be one of these values: 'created_at,due_by,updated_at,status'", code: 'invalid_value' });
      if (q.order_type !== undefined && !['asc', 'desc'].includes(q.order_type))
        invalid.push({ field: 'order_type', message: "It should be one of these values: 'asc,desc'", code: 'invalid_value' });
      if (q.filter !== undefined && !['new_and_my_open', 'watching', 'spam', 'deleted'].includes(q.filter))
        invalid.push({ field: 'filter', message: "It should be one of these values: 'new_and_my_open,watching,spam,deleted'", code: 'invalid_value' });
    } else if (q.state !== undefined && !['blocked', 'deleted', 'unverified', 'verified'].includes(q.state)) {
      invalid.push({ field: 'state', message: "It should be one of these values: 'blocked,deleted,unverified,verified'", code: 'invalid_value' });
    }
    if (invalid.length) return { status: 400, headers, body: { description: 'Validation failed', errors: invalid } };

    const now = this.provider.now();
    let rows = collection.all().filter((r) => {
      if (since !== undefined) return Date.parse(r.updated_at) >= since;
      // "By default, only tickets that have been created within the past 30 days will be returned.
      // For older tickets, use the updated_since filter" (the reference's note 1, above).
      return kind === 'contacts' || Date.parse(r.created_at) >= now - THIRTY_DAYS_MS;
    });
    const deletedWanted = kind === 'tickets' ? q.filter === 'deleted' : q.state === 'deleted';
    rows = rows.filter((r) => Boolean(r.deleted) === deletedWanted);
    // "order_by … Allowed values: created_at, due_by, updated_at, status. Default sort field:
    // created_at"; order_type: "default sort order type is desc" (the reference's parameters as
    // reproduced at https://www.withone.ai/knowledge/freshdesk/conn_mod_def%3A%3AGJ2h1djXT5s%3A%3AeiaDKEIhR_yr2HL7E6cGaw).
    if (kind === 'tickets') rows = ordered(rows, q.order_by ?? 'created_at', q.order_type ?? 'desc');
    else rows = [...rows].sort((a, b) => Number(a.id) - Number(b.id)); // no documented order: id order

    const slice = rows.slice((page! - 1) * perPage!, page! * perPage!);
    // The link is offered past page 300 too; following it answers 400 (the cap).
    if (page! * perPage! < rows.length) {
      const next = new URL(req.path, this.provider.url);
      for (const [k, v] of Object.entries(q)) next.searchParams.set(k, v);
      next.searchParams.set('page', String(page! + 1));
      headers.link = `<${next.toString()}>; rel="next"`;
    }
    return { status: 200, headers, body: slice.map(shape) };
  }
}

function wholeNumber(value: string | undefined, fallback: number): number | undefined {
  if (value === undefined) return fallback;
  return /^\d+$/.test(value) ? Number(value) : undefined;
}

function ordered(rows: ProviderRecord[], field: string, direction: string): ProviderRecord[] {
  const sorted = [...rows].sort((a, b) => (String(a[field]) < String(b[field]) ? -1 : String(a[field]) > String(b[field]) ? 1 : Number(a.id) - Number(b.id)));
  return direction === 'desc' ? sorted.reverse() : sorted;
}

/** Freshdesk answers dates in whole seconds. */
function shape(r: ProviderRecord): Record<string, unknown> {
  return { ...r, created_at: isoSeconds(r.created_at), updated_at: isoSeconds(r.updated_at) };
}
