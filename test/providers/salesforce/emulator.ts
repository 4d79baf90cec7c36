import { randomBytes } from 'node:crypto';
import { EmulatedProvider, type CannedResponse, type Collection, type ProviderRecord, type RouteRequest } from '../../../sandbox/provider-server.js';
import { RateWindow, unknownParams } from '../provider-api.js';

/**
 * Salesforce as developer.salesforce.com documents it: the OAuth 2.0 web-server flow
 * (`POST /services/oauth2/token`, form-encoded; the answer carries `access_token`, `refresh_token`
 * and the org's `instance_url` — the API host — and no `expires_in`); API calls with the bearer
 * token, an expired or revoked one answering 401 `[{"message", "errorCode": "INVALID_SESSION_ID"}]`;
 * SOQL through `GET /services/data/vXX.X/query?q=…` answering
 * `{totalSize, done, nextRecordsUrl?, records: [{attributes: {type, url}, Id, …}]}` in batches
 * (2,000 by default) with a relative `nextRecordsUrl`; datetimes like
 * `2026-11-24T10:00:00.000+0000` (SOQL literals unquoted, `2026-11-24T10:00:00Z`); 18-character
 * ids; `GET /services/data/vXX.X/sobjects/{type}/deleted/?start=&end=` answering
 * `{deletedRecords: [{id, deletedDate}], earliestDateAvailable, latestDateCovered}` under the rules
 * cited at `deleted` below;
 * `Sforce-Limit-Info: api-usage=n/15000` on every answer.
 */
export const SOBJECTS = ['Account', 'Contact', 'Opportunity'] as const;
type SObject = (typeof SOBJECTS)[number];
const PREFIX: Record<SObject, string> = { Account: '001', Contact: '003', Opportunity: '006' };
const DAY = 86_400_000;

export class SalesforceEmulator {
  readonly objects: Record<SObject, Collection>;
  readonly deletedLog: Array<{ type: SObject; id: string; at: number }> = [];
  /** Deletions from this time on are still being processed: not listed yet, and latestDateCovered stops here. */
  incompleteFrom?: number;
  readonly rate: RateWindow;
  readonly codes = new Set<string>();
  readonly accessTokens = new Set<string>();
  readonly refreshTokens = new Set<string>();
  readonly tokenRequests: Array<Record<string, string>> = [];
  batchSize = 2000;
  private readonly cursors = new Map<string, { rows: Array<Record<string, unknown>>; position: number }>();

  private constructor(
    readonly provider: EmulatedProvider,
    readonly clientId: string,
    readonly clientSecret: string,
    readonly version: string,
  ) {
    this.objects = { Account: provider.collection('Account'), Contact: provider.collection('Contact'), Opportunity: provider.collection('Opportunity') };
    this.rate = new RateWindow(15000, 86_400_000, () => provider.now());
    provider.route('POST', '/services/oauth2/token', (req) => this.token(req));
    provider.route('GET', `/services/data/v${version}/query`, (req) => this.guard(req, () => this.query(req)));
    provider.route('GET', `/services/data/v${version}/query/:cursor`, (req) => this.guard(req, () => this.more(req, req.params.cursor)));
    provider.route('GET', `/services/data/v${version}/sobjects/:type/deleted/`, (req) => this.guard(req, () => this.deleted(req)));
  }

  static async start(clientId: string, clientSecret: string, version = '60.0'): Promise<SalesforceEmulator> {
    return new SalesforceEmulator(await EmulatedProvider.start(), clientId, clientSecret, version);
  }

  get url(): string {
    return this.provider.url;
  }

  /** An authorization code, as the authorize redirect hands one to the callback. */
  issueCode(): string {
    const code = randomBytes(12).toString('hex');
    this.codes.add(code);
    return code;
  }

  /** Every access token stops working (a session timeout): the next API call answers INVALID_SESSION_ID. */
  expireSessions(): void {
    this.accessTokens.clear();
  }

  /** Deletes a record: it leaves queries and enters the delete log. */
  remove(type: SObject, id: number): void {
    this.objects[type].remove(id);
    this.deletedLog.push({ type, id: sfId(type, id), at: this.provider.now() });
  }

  throttleNext(n: number): void {
    this.provider.failNext(
      n,
      { status: 429, headers: { 'retry-after': '2' }, body: [{ message: 'Too many requests', errorCode: 'REQUEST_LIMIT_EXCEEDED' }] },
      { path: '/services/data/' },
    );
  }

  close(): Promise<void> {
    return this.provider.close();
  }

  private token(req: RouteRequest): CannedResponse {
    const form = Object.fromEntries(new URLSearchParams(req.body));
    this.tokenRequests.push(form);
    const refused = (error: string, description: string): CannedResponse => ({ status: 400, body: { error, error_description: description } });
    if (form.client_id !== this.clientId || form.client_secret !== this.clientSecret) return refused('invalid_client', 'invalid client credentials');
    if (form.grant_type === 'authorization_code') {
      if (!this.codes.delete(form.code)) return refused('invalid_grant', 'authentication failure');
    } else if (form.grant_type === 'refresh_token') {
      if (!this.refreshTokens.has(form.refresh_token)) return refused('invalid_grant', 'expired access/refresh token');
    } else return refused('unsupported_grant_type', 'grant type not supported');
    const accessToken = `00D${randomBytes(12).toString('hex')}`;
    this.accessTokens.add(accessToken);
    const refreshToken = form.grant_type === 'refresh_token' ? undefined : `5Aep${randomBytes(12).toString('hex')}`;
    if (refreshToken) this.refreshTokens.add(refreshToken);
    return {
      status: 200,
      body: {
        access_token: accessToken,
        ...(refreshToken ? { refresh_token: refreshToken } : {}),
        instance_url: this.provider.url,
        id: `${this.provider.url}/id/00Dxx0000000001/005xx0000000001`,
        token_type: 'Bearer',
        issued_at: String(this.provider.now()),
        scope: 'api refresh_token',
      },
    };
  }

  private guard(req: RouteRequest, answer: () => CannedResponse): CannedResponse {
    const usage = this.rate.take();
    const headers = { 'sforce-limit-info': `api-usage=${usage.used}/${this.rate.limit}` };
    const token = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    if (!token || !this.accessTokens.has(token))
      return { status: 401, headers, body: [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }] };
    const result = answer();
    return { ...result, headers: { ...headers, ...result.headers } };
  }

  private query(req: RouteRequest): CannedResponse {
    const malformed = (message: string): CannedResponse => ({ status: 400, body: [{ message, errorCode: 'MALFORMED_QUERY' }] });
    const unknown = unknownParams(req, ['q']);
    if (unknown.length) return malformed(`unexpected parameter ${unknown[0]}`);
    const m = /^SELECT\s+([\w\s,]+?)\s+FROM\s+(\w+)(?:\s+WHERE\s+SystemModstamp\s*(>=|>)\s*(\S+))?(?:\s+ORDER\s+BY\s+SystemModstamp\s+(ASC|DESC))?$/i.exec(
      (req.query.q ?? '').trim(),
    );
    if (!m) return malformed(`unexpected token in query: ${req.query.q ?? '(none)'}`);
    const [, fieldList, type, op, literal, order] = m;
    if (!SOBJECTS.includes(type as SObject)) return { status: 400, body: [{ message: `sObject type '${type}' is not supported.`, errorCode: 'INVALID_TYPE' }] };
    let since: number | undefined;
    if (literal !== undefined) {
      // SOQL datetime literals are unquoted ISO 8601 with Z or an offset.
      if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(literal))
        return malformed(`value of filter criterion for field 'SystemModstamp' must be of type dateTime and should not be enclosed in quotes: ${literal}`);
      since = Date.parse(literal);
    }
    const fields = fieldList.split(',').map((f) => f.trim());
    let rows = this.objects[type as SObject]
      .all()
      .filter((r) => since === undefined || (op === '>' ? Date.parse(r.updated_at) > since : Date.parse(r.updated_at) >= since));
    if (order?.toUpperCase() === 'DESC') rows = [...rows].reverse();
    const shaped = rows.map((r) => shape(r, type as SObject, fields, this.version));
    return this.page(shaped, 0);
  }

  /**
   * Query More Results. https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_query.htm:
   * "If the initial query returns only part of the results, the end of the response contains a field
   * called nextRecordsUrl … request the next batch of records and repeat until all records have been
   * retrieved. These requests use nextRecordsUrl, and don't include any parameters." A locator is
   * good once, for the batch it names.
   */
  private more(req: RouteRequest, cursor: string): CannedResponse {
    if (Object.keys(req.query).length) return { status: 400, body: [{ message: 'a query locator takes no parameters', errorCode: 'MALFORMED_QUERY' }] };
    const [key, position] = cursor.split('-');
    const state = this.cursors.get(key);
    if (!state || Number(position) !== state.position) return { status: 400, body: [{ message: 'invalid query locator', errorCode: 'INVALID_QUERY_LOCATOR' }] };
    return this.page(state.rows, state.position, key);
  }

  /**
   * https://developer.salesforce.com/docs/atlas.en-us.258.0.api_rest.meta/api/resources_query.htm (Query):
   * "up to 2,000 records can be returned at a time in a synchronous request … If the total number
   * of results exceeds the limit or the requested number of results, the response contains the
   * first batch of records, a false value for done, and a query locator."
   */
  private page(rows: Array<Record<string, unknown>>, position: number, key = `01g${randomBytes(6).toString('hex')}`): CannedResponse {
    const records = rows.slice(position, position + this.batchSize);
    const next = position + this.batchSize;
    const done = next >= rows.length;
    if (!done) this.cursors.set(key, { rows, position: next });
    return {
      status: 200,
      body: { totalSize: rows.length, done, ...(done ? {} : { nextRecordsUrl: `/services/data/v${this.version}/query/${key}-${next}` }), records },
    };
  }

  /**
   * sObject Get Deleted (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getdeleted.htm)
   * with the rules of getDeleted() it refers to
   * (https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_getdeleted.htm):
   * - start/end: "The API ignores the seconds portion of the specified dateTime value (for example,
   *   12:30:15 is interpreted as 12:30:00 UTC)";
   * - "The specified startDate must chronologically precede the specified endDate value by more than
   *   one minute. … Otherwise, the API returns an INVALID_REPLICATION_DATE error.";
   * - "Results are returned for no more than 15 days previous to the day the call is executed (or
   *   earlier if an administrator has purged the Recycle Bin). If the purge has been performed
   *   before your getDeleted() call is executed, an INVALID_REPLICATION_DATE error is returned."
   *   (the emulator's log is purged at that boundary, its earliestDateAvailable);
   * - latestDateCovered (GetDeletedResult): "If there is a value, it is less than or equal to
   *   endDate. A value here indicates that, for safety, you should use this value for the startDate
   *   of your next call" — here, while `incompleteFrom` is set.
   */
  private deleted(req: RouteRequest): CannedResponse {
    const type = req.params.type as SObject;
    if (!SOBJECTS.includes(type)) return { status: 404, body: [{ message: `The requested resource does not exist`, errorCode: 'NOT_FOUND' }] };
    const unknown = unknownParams(req, ['start', 'end']);
    const start = Date.parse(req.query.start ?? '');
    const end = Date.parse(req.query.end ?? '');
    if (unknown.length || Number.isNaN(start) || Number.isNaN(end))
      return { status: 400, body: [{ message: 'start and end must be dateTimes', errorCode: 'INVALID_QUERY_FILTER_OPERATOR' }] };
    const from = start - (start % 60_000);
    const to = end - (end % 60_000);
    const refused = (message: string): CannedResponse => ({ status: 400, body: [{ message, errorCode: 'INVALID_REPLICATION_DATE' }] });
    if (to - from <= 60_000) return refused('startDate must chronologically precede endDate by more than one minute');
    const now = this.provider.now();
    const earliest = now - (now % DAY) - 15 * DAY;
    if (from < earliest) return refused(`startDate before earliestDateAvailable ${sfDate(earliest)}`);
    const covered = Math.min(to, now, this.incompleteFrom ?? Number.POSITIVE_INFINITY);
    const deletedRecords = this.deletedLog
      .filter((d) => d.type === type && d.at >= from && d.at < to + 60_000 && d.at < covered + (covered === to ? 60_000 : 0))
      .map((d) => ({ id: d.id, deletedDate: sfDate(d.at) }));
    return { status: 200, body: { deletedRecords, earliestDateAvailable: sfDate(earliest), latestDateCovered: sfDate(covered) } };
  }
}

/** An 18-character Salesforce id for a numeric emulator id. */
export function sfId(type: SObject, id: number | string): string {
  return `${PREFIX[type]}${String(id).padStart(12, '0')}AAA`;
}

function sfDate(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

function shape(r: ProviderRecord, type: SObject, fields: string[], version: string): Record<string, unknown> {
  const id = sfId(type, r.id);
  const all: Record<string, unknown> = {
    ...r,
    Id: id,
    SystemModstamp: sfDate(Date.parse(r.updated_at)),
    LastModifiedDate: sfDate(Date.parse(r.updated_at)),
    CreatedDate: sfDate(Date.parse(r.created_at)),
  };
  const out: Record<string, unknown> = { attributes: { type, url: `/services/data/v${version}/sobjects/${type}/${id}` } };
  for (const f of fields) out[f] = all[f] ?? null;
  return out;
}
