import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import {
  EmulatedProvider,
  type CannedResponse,
  type Collection,
  type ProviderRecord,
  type RecordedRequest,
  type RouteRequest,
} from '../../../sandbox/provider-server.js';
import { RateWindow, isoSeconds, unknownParams } from '../provider-api.js';

/**
 * Desk.com API v2 (retired; as its published client libraries and recorded answers show it):
 * OAuth 1.0a with HMAC-SHA1 — `POST /oauth/request_token`, `/oauth/authorize`,
 * `POST /oauth/access_token`, and every API request signed with the consumer and access-token
 * secrets. Signatures are checked here with `oauth-sign` (not the library pollgate signs with).
 * `GET /api/v2/cases/search` and `/api/v2/customers/search` take `since_updated_at` (Unix
 * seconds), `sort_field`, `sort_direction`, `page`, `per_page` (≤ 100) and answer HAL:
 * `{total_entries, page, _links: {self, first, last, previous, next}, _embedded: {entries}}` with
 * relative `href`s; dates in UTC whole seconds; `X-Rate-Limit-Limit`, `-Remaining`, `-Reset` and 429.
 */
const require = createRequire(import.meta.url);
const oauthSign = require('oauth-sign') as {
  hmacsign(method: string, baseUri: string, params: Record<string, string>, consumerSecret: string, tokenSecret?: string): string;
};

const SEARCH_PARAMS = ['since_updated_at', 'max_updated_at', 'since_created_at', 'sort_field', 'sort_direction', 'page', 'per_page', 'status', 'email'];

export class DeskEmulator {
  readonly cases: Collection;
  readonly customers: Collection;
  readonly rate: RateWindow;
  /** Request tokens the user has authorized: token → its secret and verifier. */
  private readonly requestTokens = new Map<string, { secret: string; verifier: string }>();
  /** Access tokens issued: token → secret. */
  readonly accessTokens = new Map<string, string>();
  /** Every signature check made, with its outcome (tests assert that polls were signed). */
  readonly signatureChecks: Array<{ path: string; ok: boolean; token?: string }> = [];

  private constructor(
    readonly provider: EmulatedProvider,
    readonly consumerKey: string,
    readonly consumerSecret: string,
  ) {
    this.cases = provider.collection('cases');
    this.customers = provider.collection('customers');
    this.rate = new RateWindow(60, 60_000, () => provider.now());
    provider.route('POST', '/oauth/request_token', (req) => this.requestToken(req));
    provider.route('POST', '/oauth/access_token', (req) => this.accessToken(req));
    provider.route('GET', '/api/v2/cases/search', (req) => this.search(req, this.cases, 'case'));
    provider.route('GET', '/api/v2/customers/search', (req) => this.search(req, this.customers, 'customer'));
  }

  static async start(consumerKey: string, consumerSecret: string): Promise<DeskEmulator> {
    return new DeskEmulator(await EmulatedProvider.start(), consumerKey, consumerSecret);
  }

  /** What an instance puts in `base.url`. */
  get baseUrl(): string {
    return `${this.provider.url}/api/v2`;
  }

  /** A request token as if the user had authorized it at /oauth/authorize: what a callback receives. */
  authorizedRequestToken(): { oauth_token: string; oauth_verifier: string; secret: string } {
    const token = randomBytes(10).toString('hex');
    const entry = { secret: randomBytes(20).toString('hex'), verifier: randomBytes(8).toString('hex') };
    this.requestTokens.set(token, entry);
    return { oauth_token: token, oauth_verifier: entry.verifier, secret: entry.secret };
  }

  throttleNext(n: number): void {
    this.provider.failNext(
      n,
      {
        status: 429,
        headers: { 'x-rate-limit-limit': '60', 'x-rate-limit-remaining': '0', 'x-rate-limit-reset': '3', 'retry-after': '3' },
        body: { message: 'Too Many Requests' },
      },
      { path: '/api/v2/' },
    );
  }

  close(): Promise<void> {
    return this.provider.close();
  }

  private requestToken(req: RouteRequest): CannedResponse {
    const oauth = this.verify(req, undefined);
    if (!oauth) return unauthorized();
    const token = randomBytes(10).toString('hex');
    this.requestTokens.set(token, { secret: randomBytes(20).toString('hex'), verifier: randomBytes(8).toString('hex') });
    return form({ oauth_token: token, oauth_token_secret: this.requestTokens.get(token)!.secret, oauth_callback_confirmed: 'true' });
  }

  private accessToken(req: RouteRequest): CannedResponse {
    const params = authorizationParams(req);
    const pending = params.oauth_token ? this.requestTokens.get(params.oauth_token) : undefined;
    if (!pending || !this.verify(req, pending.secret) || params.oauth_verifier !== pending.verifier) return unauthorized();
    this.requestTokens.delete(params.oauth_token);
    const token = randomBytes(10).toString('hex');
    const secret = randomBytes(20).toString('hex');
    this.accessTokens.set(token, secret);
    return form({ oauth_token: token, oauth_token_secret: secret });
  }

  private search(req: RouteRequest, collection: Collection, kind: 'case' | 'customer'): CannedResponse {
    const usage = this.rate.take();
    const headers = {
      'x-rate-limit-limit': String(this.rate.limit),
      'x-rate-limit-remaining': String(usage.remaining),
      'x-rate-limit-reset': String(Math.ceil((usage.resetAt - this.provider.now()) / 1000)),
    };
    const token = authorizationParams(req).oauth_token;
    if (!token || !this.accessTokens.has(token) || !this.verify(req, this.accessTokens.get(token))) return { ...unauthorized(), headers };
    const q = req.query;
    const bad = (message: string): CannedResponse => ({ status: 400, headers, body: { message, errors: { [message.split(' ')[0]]: ['invalid'] } } });
    const unknown = unknownParams(req, SEARCH_PARAMS);
    if (unknown.length) return bad(`${unknown[0]} is not a valid search parameter`);
    for (const p of ['since_updated_at', 'page', 'per_page']) if (q[p] !== undefined && !/^\d+$/.test(q[p])) return bad(`${p} must be an integer`);
    const page = Number(q.page ?? 1);
    const perPage = Number(q.per_page ?? 50);
    if (page < 1 || perPage < 1 || perPage > 100) return bad('per_page must be between 1 and 100');
    if (q.sort_direction !== undefined && !['asc', 'desc'].includes(q.sort_direction)) return bad('sort_direction must be asc or desc');
    let rows = collection.all();
    if (q.since_updated_at !== undefined) rows = rows.filter((r) => Date.parse(r.updated_at) >= Number(q.since_updated_at) * 1000);
    if (q.sort_field === 'updated_at' && q.sort_direction === 'desc') rows = [...rows].reverse();
    const slice = rows.slice((page - 1) * perPage, page * perPage);
    const last = Math.max(1, Math.ceil(rows.length / perPage));
    const href = (p: number) => {
      const u = new URLSearchParams(q);
      u.set('page', String(p));
      u.set('per_page', String(perPage));
      return { href: `${req.path}?${u.toString()}`, class: 'page' };
    };
    return {
      status: 200,
      headers,
      body: {
        total_entries: rows.length,
        page,
        _links: { self: href(page), first: href(1), last: href(last), previous: page > 1 ? href(page - 1) : null, next: page < last ? href(page + 1) : null },
        _embedded: { entries: slice.map((r) => shape(r, kind)) },
      },
    };
  }

  /** Checks the request's OAuth 1.0a HMAC-SHA1 signature over method, URL, query and oauth params. */
  private verify(req: RecordedRequest, tokenSecret: string | undefined): boolean {
    const params = authorizationParams(req);
    const { oauth_signature: signature, ...signed } = params;
    const url = new URL(req.path, this.provider.url);
    const expected = oauthSign.hmacsign(req.method, url.toString(), { ...req.query, ...signed }, this.consumerSecret, tokenSecret);
    const ok = Boolean(signature) && params.oauth_consumer_key === this.consumerKey && params.oauth_signature_method === 'HMAC-SHA1' && signature === expected;
    this.signatureChecks.push({ path: req.path, ok, token: params.oauth_token });
    return ok;
  }
}

/** The parameters of an `Authorization: OAuth k="v", …` header, percent-decoded. */
function authorizationParams(req: RecordedRequest): Record<string, string> {
  const header = String(req.headers.authorization ?? '');
  if (!header.startsWith('OAuth ')) return {};
  const out: Record<string, string> = {};
  for (const m of header.slice(6).matchAll(/([a-z_]+)="([^"]*)"/g)) out[m[1]] = decodeURIComponent(m[2]);
  return out;
}

function unauthorized(): CannedResponse {
  return { status: 401, body: { message: 'Unauthorized' } };
}

function form(values: Record<string, string>): CannedResponse {
  return { status: 200, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(values).toString() };
}

function shape(r: ProviderRecord, kind: string): Record<string, unknown> {
  return {
    ...r,
    created_at: isoSeconds(r.created_at),
    updated_at: isoSeconds(r.updated_at),
    _links: { self: { href: `/api/v2/${kind}s/${r.id}`, class: kind } },
  };
}
