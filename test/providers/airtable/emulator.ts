import { createHmac, randomBytes } from 'node:crypto';
import got from 'got';
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

/**
 * https://airtable.com/developers/web/api/create-a-webhook: "Each webhook created with OAuth or
 * personal access token will expire and be disabled after 7 days." and
 * https://airtable.com/developers/web/api/refresh-a-webhook: "Extend the life of a webhook. The new
 * expiration time will be 7 days after the refresh time."
 */
export const AIRTABLE_WEBHOOK_LIFE_MS = 7 * 86_400_000;
/** https://airtable.com/developers/web/api/create-a-webhook: "The number of webhooks per base is limited to 10." */
export const AIRTABLE_MAX_WEBHOOKS_PER_BASE = 10;

/**
 * https://airtable.com/developers/web/api/list-webhook-payloads: "A maximum of 50 payloads can be
 * returned in a single request." The emulator refuses a larger `limit` with 422.
 */
export const AIRTABLE_MAX_PAYLOADS_PER_REQUEST = 50;
/** The same page: "Payloads are deleted from Airtable's servers after 1 week whether or not the client has seen them." */
export const AIRTABLE_PAYLOAD_LIFE_MS = 7 * 86_400_000;

/**
 * One payload (https://airtable.com/developers/web/api/model/webhooks-payload, the shape as the
 * list-payloads page and Airtable's payload model give it): `timestamp`, `baseTransactionNumber`,
 * `payloadFormat: "v0"`, and `changedTablesById` with, per table, `createdRecordsById`
 * (`createdTime`, `cellValuesByFieldId`), `changedRecordsById` (`current`, `previous`) and
 * `destroyedRecordIds`. Cell values are keyed by field id; the emulator uses a record's field names
 * as their ids.
 */
export interface AirtablePayload {
  timestamp: string;
  baseTransactionNumber: number;
  payloadFormat: 'v0';
  changedTablesById: Record<
    string,
    {
      createdRecordsById?: Record<string, { createdTime: string; cellValuesByFieldId: Record<string, unknown> }>;
      changedRecordsById?: Record<
        string,
        { current: { cellValuesByFieldId: Record<string, unknown> }; previous: { cellValuesByFieldId: Record<string, unknown> } }
      >;
      destroyedRecordIds?: string[];
    }
  >;
}

export interface AirtableWebhook {
  id: string;
  notificationUrl: string;
  /** The key, as handed out base64-encoded in macSecretBase64. */
  macSecret: Buffer;
  table: string;
  expirationTime: number;
  deleted: boolean;
  /** Its payloads in order: payload n (from 1) is `payloads[n - 1]`; null once deleted for its age. */
  payloads: Array<AirtablePayload | null>;
}

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
  readonly webhooks = new Map<string, AirtableWebhook>();
  /** Pings sent, with the gateway's answer (its status and body). */
  readonly pings: Array<{ webhookId: string; status: number; body: string }> = [];
  /** The payload-list requests, with the cursor each asked for (undefined: none given). */
  readonly payloadReads: Array<{ webhookId: string; cursor: string | undefined }> = [];
  private transactions = 0;
  /** Tests point the webhook's notificationUrl (the gateway's placeholder public URL) at its real port. */
  rewriteAddress: (address: string) => string = (a) => a;

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
    provider.route('POST', '/v0/bases/:base/webhooks', (req) => a.createWebhook(req));
    provider.route('POST', '/v0/bases/:base/webhooks/:id/refresh', (req) => a.refreshWebhook(req));
    provider.route('DELETE', '/v0/bases/:base/webhooks/:id', (req) => a.deleteWebhook(req));
    provider.route('GET', '/v0/bases/:base/webhooks/:id/payloads', (req) => a.listPayloads(req));
    return a;
  }

  /**
   * Creates or changes a record now (no ping: see changeAndPing), as one transaction: each live
   * webhook on the table gets a payload naming it as created or changed.
   */
  change(id: string, fields: Record<string, unknown>, at = this.provider.now()): void {
    const previous = this.records.get(id);
    const record = { id, createdTime: previous?.createdTime ?? new Date(at).toISOString(), fields: { ...previous?.fields, ...fields }, modifiedAt: at };
    this.records.set(id, record);
    this.recordPayload(
      previous
        ? {
            changedRecordsById: {
              [id]: { current: { cellValuesByFieldId: { ...fields } }, previous: { cellValuesByFieldId: pick(previous.fields, Object.keys(fields)) } },
            },
          }
        : { createdRecordsById: { [id]: { createdTime: record.createdTime, cellValuesByFieldId: { ...record.fields } } } },
      at,
    );
  }

  /** Deletes records in one transaction (no ping): a payload naming them as destroyed. */
  destroy(ids: string[], at = this.provider.now()): void {
    for (const id of ids) this.records.delete(id);
    this.recordPayload({ destroyedRecordIds: [...ids] }, at);
  }

  /** Creates or changes a record now and pings the live webhooks on its table. */
  async changeAndPing(id: string, fields: Record<string, unknown>): Promise<void> {
    this.change(id, fields);
    for (const hook of this.liveWebhooks()) await this.ping(hook);
  }

  /** Deletes records now and pings the live webhooks on the table. */
  async destroyAndPing(ids: string[]): Promise<void> {
    this.destroy(ids);
    for (const hook of this.liveWebhooks()) await this.ping(hook);
  }

  private recordPayload(change: AirtablePayload['changedTablesById'][string], at: number): void {
    this.transactions++;
    for (const hook of this.liveWebhooks())
      hook.payloads.push({
        timestamp: new Date(at).toISOString(),
        baseTransactionNumber: this.transactions,
        payloadFormat: 'v0',
        changedTablesById: { [hook.table]: change },
      });
  }

  /** Webhooks not deleted and not expired. */
  liveWebhooks(): AirtableWebhook[] {
    const now = this.provider.now();
    return [...this.webhooks.values()].filter((w) => !w.deleted && w.expirationTime > now && w.table === this.table);
  }

  /**
   * https://airtable.com/developers/web/api/webhooks-overview ("Webhook notification delivery"):
   * "When a change that matches the webhook's specification occurs, we send a notification via a
   * POST request to the relevant webhook's notification URL containing the base ID and the webhook
   * ID. The request body contains a short JSON object of the form: {"base": {"id":
   * "app00000000000000"},"webhook": {"id": "ach00000000000000"},"timestamp": "2022-02-01T21:25:05.663Z"}".
   * The X-Airtable-Content-MAC header: the same page's example computes it as
   * `'hmac-sha256=' + hmac.digest('hex')` with `createHmac('sha256', macSecretDecoded)`, where
   * `macSecretDecoded = Buffer.from(macSecretBase64FromCreate, 'base64')`, over the request body
   * (the example as reproduced at
   * https://community.airtable.com/t5/development-apis/not-able-to-match-x-airtable-content-mac-header-from-webhook/m-p/179349;
   * the stored copy of Airtable's page did not hold that section). The answer it expects (same
   * overview page): "The recipient of this request should respond with an HTTP 200 or 204 status
   * code and an empty response body." — kept in `pings` with the body for the tests to check.
   */
  async ping(hook: AirtableWebhook, macSecret = hook.macSecret): Promise<number> {
    const body = JSON.stringify({ base: { id: this.baseId }, webhook: { id: hook.id }, timestamp: new Date(this.provider.now()).toISOString() });
    const mac = `hmac-sha256=${createHmac('sha256', macSecret).update(body).digest('hex')}`;
    const res = await got.post(this.rewriteAddress(hook.notificationUrl), {
      body,
      headers: { 'Content-Type': 'application/json', 'X-Airtable-Content-MAC': mac },
      throwHttpErrors: false,
      retry: { limit: 0 },
    });
    this.pings.push({ webhookId: hook.id, status: res.statusCode, body: res.body });
    return res.statusCode;
  }

  /**
   * https://airtable.com/developers/web/api/create-a-webhook: `POST /v0/bases/{baseId}/webhooks`
   * with `notificationUrl` and `specification` ("A JSON object that describe the types of changes
   * the webhook is interested in."); the answer: `id`, `macSecretBase64` ("A MAC secret. The client
   * should store this value to authenticate webhook pings. There is no way to retrieve this value
   * after the initial creation of the webhook.") and `expirationTime` ("The time when the webhook
   * expires and is disabled in the ISO format."). The emulator accepts the specification pollgate
   * needs — tableData of one table (webhooks-specification's `filters.dataTypes` and
   * `recordChangeScope`) — and refuses others with 422.
   */
  private createWebhook(req: RouteRequest): CannedResponse {
    const throttled = this.throttle();
    if (throttled) return throttled;
    if (req.params.base !== this.baseId) return this.error(404, 'NOT_FOUND', 'Could not find what you are looking for');
    const body = (req.json ?? {}) as {
      notificationUrl?: unknown;
      specification?: { options?: { filters?: { dataTypes?: unknown; recordChangeScope?: unknown } } };
    };
    const filters = body.specification?.options?.filters;
    if (typeof body.notificationUrl !== 'string' || !/^https?:\/\//.test(body.notificationUrl))
      return this.error(422, 'INVALID_REQUEST_UNKNOWN', 'notificationUrl must be a URL');
    if (!Array.isArray(filters?.dataTypes) || filters.dataTypes.length === 0 || filters.dataTypes.some((t) => t !== 'tableData'))
      return this.error(422, 'INVALID_REQUEST_UNKNOWN', 'specification.options.filters.dataTypes must list tableData');
    if (typeof filters.recordChangeScope !== 'string' || filters.recordChangeScope !== this.table)
      return this.error(422, 'INVALID_REQUEST_UNKNOWN', 'recordChangeScope must be a table id of the base');
    if ([...this.webhooks.values()].filter((w) => !w.deleted).length >= AIRTABLE_MAX_WEBHOOKS_PER_BASE)
      return this.error(422, 'INVALID_REQUEST_UNKNOWN', 'The number of webhooks per base is limited to 10');
    const hook: AirtableWebhook = {
      id: `ach${randomBytes(7).toString('hex')}`,
      notificationUrl: body.notificationUrl,
      macSecret: randomBytes(32),
      table: filters.recordChangeScope,
      expirationTime: this.provider.now() + AIRTABLE_WEBHOOK_LIFE_MS,
      deleted: false,
      payloads: [],
    };
    this.webhooks.set(hook.id, hook);
    return {
      status: 200,
      body: { id: hook.id, macSecretBase64: hook.macSecret.toString('base64'), expirationTime: new Date(hook.expirationTime).toISOString() },
    };
  }

  /**
   * https://airtable.com/developers/web/api/refresh-a-webhook: "Extend the life of a webhook. The new
   * expiration time will be 7 days after the refresh time. Note that this endpoint only applies to
   * active webhooks with an expiration time." The answer: `{"expirationTime": …}`. An unknown,
   * deleted or expired webhook answers 404.
   */
  private refreshWebhook(req: RouteRequest): CannedResponse {
    const throttled = this.throttle();
    if (throttled) return throttled;
    const hook = this.webhooks.get(req.params.id);
    if (req.params.base !== this.baseId || !hook || hook.deleted || hook.expirationTime <= this.provider.now())
      return this.error(404, 'NOT_FOUND', 'Could not find what you are looking for');
    hook.expirationTime = this.provider.now() + AIRTABLE_WEBHOOK_LIFE_MS;
    return { status: 200, body: { expirationTime: new Date(hook.expirationTime).toISOString() } };
  }

  /**
   * `DELETE /v0/bases/{baseId}/webhooks/{webhookId}` (https://airtable.com/developers/web/api/delete-a-webhook,
   * listed as "delete webhook" among the endpoints of https://airtable.com/developers/web/api/webhooks-overview;
   * the delete page's own sentences were not read in this session).
   */
  private deleteWebhook(req: RouteRequest): CannedResponse {
    const hook = this.webhooks.get(req.params.id);
    if (req.params.base !== this.baseId || !hook || hook.deleted) return this.error(404, 'NOT_FOUND', 'Could not find what you are looking for');
    hook.deleted = true;
    return { status: 200, body: {} };
  }

  /**
   * https://airtable.com/developers/web/api/list-webhook-payloads, `GET /v0/bases/{baseId}/webhooks/{webhookId}/payloads`:
   * - `cursor`: "The first time this action is called, the cursor argument may be omitted from the
   *   request and will default to 1." "The cursor argument indicates the transaction number of the
   *   payload to start listing from."
   * - `limit`: "A maximum of 50 payloads can be returned in a single request." (larger: 422 here).
   * - The answer's `cursor`: "the transaction number of the payload that would immediately follow
   *   the last payload returned in this request." "If there are no returned payloads, then the
   *   cursor in the response will be the same as the cursor specified in the request."
   * - `mightHaveMore`: whether more payloads follow the returned ones (the page's response format).
   * - "Payloads are deleted from Airtable's servers after 1 week whether or not the client has seen
   *   them. The cursor value for the next payload is never reset, even if payloads are deleted."
   * - "Calling this endpoint will also extend the life of the webhook if it is active with an
   *   expiration time. The new expiration time will be 7 days after the list payloads call."
   * The emulator returns at most 50 when no limit is given.
   */
  private listPayloads(req: RouteRequest): CannedResponse {
    const throttled = this.throttle();
    if (throttled) return throttled;
    const hook = this.webhooks.get(req.params.id);
    if (req.params.base !== this.baseId || !hook || hook.deleted) return this.error(404, 'NOT_FOUND', 'Could not find what you are looking for');
    const cursor = req.query.cursor === undefined ? 1 : Number(req.query.cursor);
    const limit = req.query.limit === undefined ? AIRTABLE_MAX_PAYLOADS_PER_REQUEST : Number(req.query.limit);
    if (!Number.isInteger(cursor) || cursor < 1) return this.error(422, 'INVALID_REQUEST_UNKNOWN', 'cursor must be a positive integer');
    if (!Number.isInteger(limit) || limit < 1 || limit > AIRTABLE_MAX_PAYLOADS_PER_REQUEST)
      return this.error(422, 'INVALID_REQUEST_UNKNOWN', `limit must be 1 to ${AIRTABLE_MAX_PAYLOADS_PER_REQUEST}`);
    this.payloadReads.push({ webhookId: hook.id, cursor: req.query.cursor });
    const now = this.provider.now();
    if (hook.expirationTime > now) hook.expirationTime = now + AIRTABLE_WEBHOOK_LIFE_MS;
    for (const [i, p] of hook.payloads.entries()) if (p && Date.parse(p.timestamp) <= now - AIRTABLE_PAYLOAD_LIFE_MS) hook.payloads[i] = null;
    // Deleted payloads are skipped; the cursor still counts them.
    let next = cursor;
    const payloads: AirtablePayload[] = [];
    while (next <= hook.payloads.length && payloads.length < limit) {
      const p = hook.payloads[next - 1];
      if (p) payloads.push(p);
      next++;
    }
    return { status: 200, body: { payloads, cursor: next, mightHaveMore: next <= hook.payloads.length } };
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

function pick(fields: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => Object.hasOwn(fields, k)).map((k) => [k, fields[k]]));
}
