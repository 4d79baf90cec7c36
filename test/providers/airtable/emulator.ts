import { randomBytes } from 'node:crypto';
import { EmulatedProvider, type CannedResponse, type RouteRequest } from '../../../sandbox/provider-server.js';
import { ProviderEmulator } from '../emulator-base.js';

/**
 * Airtable's Web API as Airtable documents it (prose only: Airtable publishes no machine-readable
 * description), for listing a table's records. Rules, each with its page and sentence:
 *
 * - List records (https://airtable.com/developers/web/api/list-records): `GET /v0/{baseId}/{tableIdOrName}`;
 *   "The server returns one page of records at a time. Each page will contain pageSize records,
 *   which is 100 by default. If there are more records, the response will contain an offset. To
 *   fetch the next page of records, include offset in the next request's parameters."
 * - filterByFormula (the same parameter's description, as copied at
 *   https://connectors.runlightyear.com/docs/api/airtable.listrecordsprops): "A formula used to filter
 *   records. The formula will be evaluated for each record, and if the result is not 0, false, "",
 *   NaN, [], or #Error! the record will be included in the response." The emulator evaluates one
 *   formula, `IS_AFTER(LAST_MODIFIED_TIME(), '<ISO date>')` (Airtable's formula functions; the
 *   stored copy of its formula reference did not hold their section, so no sentence is quoted), and
 *   refuses any other with 422 INVALID_FILTER_BY_FORMULA.
 */
/** https://support.airtable.com/docs/api-record-limits: "… pageSize parameter to change the number from 100 to a smaller number like 50, but 100 is the maximum". */
export const AIRTABLE_MAX_PAGE_SIZE = 100;
/**
 * https://airtable.com/developers/web/api/rate-limits: "The API is limited to 5 requests per second
 * per base." "If you exceed these rates, you will receive a 429 status code and will need to wait
 * 30 seconds before subsequent requests will succeed."
 */
export const AIRTABLE_REQUESTS_PER_SECOND = 5;
export const AIRTABLE_PENALTY_MS = 30_000;

export interface AirtableRecord {
  id: string;
  createdTime: string;
  fields: Record<string, unknown>;
}

export class AirtableEmulator extends ProviderEmulator {
  /** The table's records, with the time each was last modified (Airtable keeps it; the record does not show it). */
  readonly records = new Map<string, AirtableRecord & { modifiedAt: number }>();
  /** Requests that got 429. */
  throttled = 0;
  private readonly sent: number[] = [];
  private lockedUntil = 0;
  private readonly offsets = new Map<string, { position: number; filter: string }>();

  private constructor(
    provider: EmulatedProvider,
    readonly baseId: string,
    readonly table: string,
  ) {
    super(provider);
  }

  static async start(baseId: string, table: string, token: string): Promise<AirtableEmulator> {
    const provider = await EmulatedProvider.start({ requireAuth: { type: 'bearer', token } });
    provider.unauthorized = { status: 401, body: { error: { type: 'AUTHENTICATION_REQUIRED', message: 'Authentication required' } } };
    const a = new AirtableEmulator(provider, baseId, table);
    provider.route('GET', '/v0/:base/:table', (req) => a.list(req));
    return a;
  }

  /** Creates or changes a record now. */
  change(id: string, fields: Record<string, unknown>, at = this.provider.now()): void {
    const previous = this.records.get(id);
    this.records.set(id, { id, createdTime: previous?.createdTime ?? new Date(at).toISOString(), fields: { ...previous?.fields, ...fields }, modifiedAt: at });
  }

  private error(status: number, type: string, message: string): CannedResponse {
    return { status, body: { error: { type, message } } };
  }

  /** The per-base limit: a sixth request within a second answers 429, and so does every request for 30 s after. */
  private throttle(): CannedResponse | undefined {
    const now = this.provider.now();
    if (now < this.lockedUntil) return (this.throttled++, this.error(429, 'RATE_LIMIT_REACHED', 'Rate limit exceeded'));
    while (this.sent.length && this.sent[0] <= now - 1000) this.sent.shift();
    if (this.sent.length >= AIRTABLE_REQUESTS_PER_SECOND) {
      this.lockedUntil = now + AIRTABLE_PENALTY_MS;
      this.throttled++;
      return this.error(429, 'RATE_LIMIT_REACHED', 'Rate limit exceeded');
    }
    this.sent.push(now);
    return undefined;
  }

  private list(req: RouteRequest): CannedResponse {
    const throttled = this.throttle();
    if (throttled) return throttled;
    if (req.params.base !== this.baseId) return this.error(404, 'NOT_FOUND', 'Could not find what you are looking for');
    if (req.params.table !== this.table) return this.error(404, 'TABLE_NOT_FOUND', 'Could not find table');
    const pageSize = Number(req.query.pageSize ?? AIRTABLE_MAX_PAGE_SIZE);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > AIRTABLE_MAX_PAGE_SIZE)
      return this.error(422, 'INVALID_REQUEST_UNKNOWN', `pageSize must be 1 to ${AIRTABLE_MAX_PAGE_SIZE}`);
    const filter = req.query.filterByFormula ?? '';
    const after = /^IS_AFTER\(LAST_MODIFIED_TIME\(\),\s*'([^']+)'\)$/.exec(filter);
    if (filter && (!after || Number.isNaN(Date.parse(after[1]))))
      return this.error(422, 'INVALID_FILTER_BY_FORMULA', 'The formula for filtering records is invalid');
    const since = after ? Date.parse(after[1]) : Number.NEGATIVE_INFINITY;
    let position = 0;
    if (req.query.offset !== undefined) {
      // An offset belongs to its listing: another filter, or one not handed out, is refused.
      const stored = this.offsets.get(req.query.offset);
      if (!stored || stored.filter !== filter) return this.error(422, 'LIST_RECORDS_ITERATOR_NOT_AVAILABLE', 'The offset is not valid');
      position = stored.position;
    }
    const matching = [...this.records.values()].filter((r) => r.modifiedAt > since);
    const page = matching.slice(position, position + pageSize).map(({ modifiedAt: _, ...r }) => r);
    const body: Record<string, unknown> = { records: page };
    if (position + pageSize < matching.length) {
      const offset = `itr${randomBytes(8).toString('hex')}/${page.at(-1)?.id}`;
      this.offsets.set(offset, { position: position + pageSize, filter });
      body.offset = offset;
    }
    return { status: 200, body };
  }
}
