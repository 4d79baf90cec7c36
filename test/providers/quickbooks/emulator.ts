import { createHmac, randomUUID } from 'node:crypto';
import { EmulatedProvider, type CannedResponse, type RouteRequest } from '../../../sandbox/provider-server.js';
import { ProviderEmulator } from '../emulator-base.js';

/**
 * QuickBooks Online's accounting API as Intuit documents it, for the entities the connector reads
 * (Customer, Invoice): the change data capture operation, the query operation, Intuit's OAuth 2.0
 * token endpoint and its signed webhook notifications. Rules, each with its source:
 *
 * - CDC (https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/change-data-capture):
 *   "https://quickbooks.api.intuit.com/v3/company/<realmId>/cdc?entities=<entityList>&changedSince=<dateTime>";
 *   "entityList: The comma-separated list of entities you want to see changes for."
 */
/** Same page: "CDC operations can track changes within the last 30 days." (an older changedSince is refused). */
export const CDC_WINDOW_MS = 30 * 86_400_000;
/** Same page: "Server responses can handle a maximum of 1,000 objects. We suggest you query for shorter time periods." */
export const CDC_MAX_OBJECTS = 1000;
/**
 * The query operation's page size: paged with STARTPOSITION and MAXRESULTS; the cap of 1,000 is the
 * emulator's assumption (the same figure as CDC's), not a sentence checked on Intuit's query page.
 */
export const QUERY_MAX_RESULTS = 1000;

const ENTITIES = ['Customer', 'Invoice'] as const;
type Entity = (typeof ENTITIES)[number];

export interface QboRecord {
  Id: string;
  status?: 'Deleted';
  MetaData: { CreateTime: string; LastUpdatedTime: string };
  [field: string]: unknown;
}

/** QuickBooks writes dates with the company's offset ("2015-12-23T09:00-07:00" in the CDC page's example): here -08:00. */
export function qboDate(ms: number): string {
  return `${new Date(ms - 8 * 3_600_000).toISOString().slice(0, 19)}-08:00`;
}

export class QuickBooksEmulator extends ProviderEmulator {
  readonly records: Record<Entity, Map<string, QboRecord & { changedAt: number }>> = { Customer: new Map(), Invoice: new Map() };
  /** Access tokens still valid, and the one refresh token that is (a refresh replaces it). */
  readonly accessTokens = new Set<string>();
  refreshToken = '';
  readonly codes = new Set<string>();
  private serial = 0;

  private constructor(
    provider: EmulatedProvider,
    readonly realmId: string,
    readonly client: { id: string; secret: string },
  ) {
    super(provider);
  }

  static async start(realmId: string, client: { id: string; secret: string }): Promise<QuickBooksEmulator> {
    const provider = await EmulatedProvider.start();
    const qbo = new QuickBooksEmulator(provider, realmId, client);
    provider.route('POST', '/oauth2/v1/tokens/bearer', (req) => qbo.token(req));
    provider.route('GET', '/v3/company/:realm/cdc', (req) => qbo.authorized(req, () => qbo.cdc(req)));
    provider.route('GET', '/v3/company/:realm/query', (req) => qbo.authorized(req, () => qbo.query(req)));
    return qbo;
  }

  /** An authorization code as the authorize step would hand back (with realmId beside it). */
  issueCode(): string {
    const code = `code-${randomUUID()}`;
    this.codes.add(code);
    return code;
  }

  /** Creates or changes a record now; `deleted` leaves only what CDC shows of a deleted entity. */
  change(entity: Entity, id: string, fields: Record<string, unknown> = {}, at = this.provider.now()): void {
    const previous = this.records[entity].get(id);
    const created = previous?.MetaData.CreateTime ?? qboDate(at);
    this.records[entity].set(id, {
      ...previous,
      ...fields,
      Id: id,
      domain: 'QBO',
      MetaData: { CreateTime: created, LastUpdatedTime: qboDate(at) },
      changedAt: at,
    });
  }

  /**
   * CDC page: "Deleted entities return a Deleted value for the status field." A deleted entity
   * keeps only its id and dates (the page's example response).
   */
  delete(entity: Entity, id: string, at = this.provider.now()): void {
    const previous = this.records[entity].get(id);
    this.records[entity].set(id, {
      Id: id,
      domain: 'QBO',
      status: 'Deleted',
      MetaData: { CreateTime: previous?.MetaData.CreateTime ?? qboDate(at), LastUpdatedTime: qboDate(at) },
      changedAt: at,
    });
  }

  /** A webhook notification as Intuit posts it, signed with the verifier token (intuit-signature). */
  notification(verifier: string, entities: Array<{ name: string; id: string; operation: string }>): { body: string; headers: Record<string, string> } {
    // https://developer.intuit.com/app/developer/qbo/docs/develop/webhooks/managing-webhooks-notifications (its sample payload).
    const body = JSON.stringify({
      eventNotifications: [
        {
          realmId: this.realmId,
          dataChangeEvent: { entities: entities.map((e) => ({ ...e, lastUpdated: qboDate(this.provider.now()).replace(/:(\d\d)$/, '$1') })) },
        },
      ],
    });
    // Same page: "Use this token to validate the notification received upon callback": an HMAC-SHA256
    // of the body keyed by the verifier token, base64, in the intuit-signature header.
    return { body, headers: { 'intuit-signature': createHmac('sha256', verifier).update(body).digest('base64') } };
  }

  private fault(status: number, message: string, code: string): CannedResponse {
    return {
      status,
      body: {
        Fault: { Error: [{ Message: message, Detail: message, code }], type: status === 401 ? 'AUTHENTICATION' : 'ValidationFault' },
        time: qboDate(this.provider.now()),
      },
    };
  }

  private authorized(req: RouteRequest, then: () => CannedResponse): CannedResponse {
    const token = /^Bearer (.+)$/i.exec(String(req.headers.authorization ?? ''))?.[1];
    if (!token || !this.accessTokens.has(token)) return this.fault(401, 'AuthenticationFailed', '100');
    if (req.params.realm !== this.realmId) return this.fault(403, 'ApplicationAuthorizationFailed', '003100');
    return then();
  }

  /**
   * The token endpoint (https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/oauth-2.0:
   * "Your app exchanges this code for access tokens. These tokens are tied to your users' now
   * authorized QuickBooks Online company (identified by the realmID)."): client credentials in a
   * Basic header; a refresh answers a new refresh token and the old one is refused from then on
   * (rotation: an app that kept the old one gets invalid_grant). Those two are not from a sentence
   * read here (the page leaves them to Intuit's SDKs), nor are the fault codes below.
   */
  private token(req: RouteRequest): CannedResponse {
    // RFC 6749 §2.3.1: the id and secret are form-encoded before they are joined and base64-encoded.
    const basic = /^Basic (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const [id, secret] = Buffer.from(basic ?? '', 'base64')
      .toString()
      .split(':')
      .map((part) => decodeURIComponent(part.replaceAll('+', ' ')));
    if (id !== this.client.id || secret !== this.client.secret) return { status: 401, body: { error: 'invalid_client' } };
    const form = new URLSearchParams(req.body);
    if (form.get('grant_type') === 'authorization_code') {
      if (!this.codes.delete(form.get('code') ?? '')) return { status: 400, body: { error: 'invalid_grant' } };
    } else if (form.get('grant_type') === 'refresh_token') {
      if (!this.refreshToken || form.get('refresh_token') !== this.refreshToken) return { status: 400, body: { error: 'invalid_grant' } };
    } else return { status: 400, body: { error: 'unsupported_grant_type' } };
    this.serial++;
    const access = `qbo-at-${this.serial}`;
    this.accessTokens.add(access);
    this.refreshToken = `qbo-rt-${this.serial}`;
    return {
      status: 200,
      body: { token_type: 'bearer', access_token: access, expires_in: 3600, refresh_token: this.refreshToken, x_refresh_token_expires_in: 8_726_400 },
    };
  }

  /** Expires every access token issued so far (the next call answers 401 and the gateway refreshes). */
  expireAccessTokens(): void {
    this.accessTokens.clear();
  }

  private cdc(req: RouteRequest): CannedResponse {
    const entities = (req.query.entities ?? '').split(',').filter(Boolean);
    if (entities.length === 0 || entities.some((e) => !(ENTITIES as readonly string[]).includes(e)))
      return this.fault(400, `entities must be a comma-separated list of ${ENTITIES.join(', ')}`, '2030');
    const since = Date.parse(req.query.changedSince ?? '');
    if (Number.isNaN(since)) return this.fault(400, 'changedSince is not a date-time', '2030');
    if (since < this.provider.now() - CDC_WINDOW_MS) return this.fault(400, 'changedSince must be within the last 30 days', '2030');
    // One answer holds at most CDC_MAX_OBJECTS objects across its entities, oldest changes first.
    let room = CDC_MAX_OBJECTS;
    const QueryResponse = entities.map((entity) => {
      const changed = [...this.records[entity as Entity].values()].filter((r) => r.changedAt >= since).sort((a, b) => a.changedAt - b.changedAt);
      const taken = changed.slice(0, room).map(({ changedAt: _, ...r }) => r);
      room -= taken.length;
      // An entity without changes is an empty element (the example lists only entities with changes).
      return taken.length ? { [entity]: taken, startPosition: 1, maxResults: taken.length, totalCount: taken.length } : {};
    });
    return { status: 200, body: { CDCResponse: [{ QueryResponse }], time: qboDate(this.provider.now()) } };
  }

  /**
   * The query operation (https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/data-queries):
   * "Use a GET operation and include the select statement as a URI parameter:
   * https://quickbooks.api.intuit.com/v3/company/<realmId>/query?query=<select_statement>"; "Select
   * Statement = SELECT * | count(*) FROM IntuitEntity [WHERE WhereClause] [ORDERBY OrderByClause]
   * [STARTPOSITION Number] [MAXRESULTS Number]"; the entity "Case sensitive", and "You can only
   * query one entity at a time". The answer's QueryResponse carries `startPosition` and `maxResults`
   * ("startposition—The starting count of the response for pagination. maxresults—The number of
   * entity elements", the page's earlier version). Not from a sentence read here: the default of 100
   * results, the cap of 1,000 (QUERY_MAX_RESULTS), and that deleted entities are not listed.
   */
  private query(req: RouteRequest): CannedResponse {
    const m = /^select \* from (\w+)(?: startposition (\d+))?(?: maxresults (\d+))?$/i.exec((req.query.query ?? '').trim());
    if (!m || !(ENTITIES as readonly string[]).includes(m[1])) return this.fault(400, 'QueryParserError', '4000');
    const start = Number(m[2] ?? 1);
    const max = Number(m[3] ?? 100);
    if (start < 1 || max < 1 || max > QUERY_MAX_RESULTS) return this.fault(400, 'QueryValidationError', '4001');
    const live = [...this.records[m[1] as Entity].values()].filter((r) => r.status !== 'Deleted');
    const page = live.slice(start - 1, start - 1 + max).map(({ changedAt: _, ...r }) => r);
    const QueryResponse = page.length ? { [m[1]]: page, startPosition: start, maxResults: page.length } : {};
    return { status: 200, body: { QueryResponse, time: qboDate(this.provider.now()) } };
  }
}
