import { randomUUID } from 'node:crypto';
import { Signature } from '@hubspot/api-client/lib/src/utils/signature.js';
import got from 'got';
import type { OpenAPIBackend } from 'openapi-backend';
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
 * HubSpot's CRM v3 search as developers.hubspot.com documents it: bearer token (a private app's
 * access token or an OAuth token); `POST /crm/v3/objects/{contacts|companies|deals}/search` with
 * `filterGroups` (`{propertyName, operator, value}`; datetime values in epoch milliseconds),
 * `sorts`, `properties`, `limit` ≤ 200 and the `after` cursor from `paging.next.after`; at most
 * 10,000 results per query (paging past them answers 400); records
 * `{id, properties, createdAt, updatedAt, archived}` with ISO dates in UTC with milliseconds;
 * contacts' last-modified property is `lastmodifieddate`, the others' `hs_lastmodifieddate`;
 * errors `{status: "error", message, correlationId, category}`; search requests are limited per
 * second and answer 429 with `errorType: "RATE_LIMIT"`.
 *
 * Every request is first validated with openapi-backend against HubSpot's own published
 * descriptions (subsets in ./openapi/, cut by scripts/openapi-subset.ts with the hubspot-* recipes
 * from https://github.com/HubSpot/HubSpot-public-api-spec-collection): an invalid one is answered
 * 400 VALIDATION_ERROR and recorded in `invalidRequests`, whatever the rules below would accept.
 */
/**
 * The search guide's limits (https://developers.hubspot.com/docs/api-reference/search/guide,
 * "Limits"; earlier at https://developers.hubspot.com/docs/api/crm/search#limitations): "The search
 * endpoints are limited to 10,000 total results for any given query. Attempting to page beyond
 * 10,000 will result in a 400 error."
 */
export const HUBSPOT_MAX_RESULTS = 10_000;
/**
 * The same guide: "The search endpoints are rate limited to five requests per second per account";
 * its earlier version and https://developers.hubspot.com/changelog/crm-search-api-rate-limit-increase
 * say four ("increasing the rate limit to four requests per second and per authentication token").
 * The emulator enforces the stricter figure, which the connector must keep to either way.
 */
export const HUBSPOT_SEARCHES_PER_SECOND = 4;
/**
 * The same guide: "you can include a maximum of five `filterGroups` with up to six `filters` in each
 * group, with a maximum of 18 filters in total"; "A query can contain a maximum of 3,000 characters.
 * If the body of your request exceeds 3,000 characters, a 400 error will be returned."
 */
const MAX_FILTER_GROUPS = 5;
const MAX_FILTERS_PER_GROUP = 6;
const MAX_FILTERS = 18;
const MAX_QUERY_CHARS = 3000;
/** The published descriptions the emulator validates requests against (openapi-subset.json files). */
export const HUBSPOT_OPENAPI = ['contacts', 'companies', 'deals', 'oauth', 'webhooks'].map(
  (name) => new URL(`./openapi/${name}.json`, import.meta.url).pathname,
);

/** HubSpot's descriptions, loaded once per process. */
export function hubSpotDescriptions(): Promise<OpenAPIBackend[]> {
  return Promise.all(HUBSPOT_OPENAPI.map((file) => openApiFromPackage(file)));
}

/** The errors of a request against whichever of HubSpot's descriptions has its operation. */
export function validateHubSpotRequest(descriptions: OpenAPIBackend[], req: RecordedRequest): string[] {
  for (const description of descriptions) {
    // The token endpoint takes a form body; the rest JSON (read as such either way).
    const verdict = validateRequest(description, req, '', 'brackets');
    if (verdict.operationId) return verdict.errors;
  }
  return [`${req.method} ${req.path} is not an operation of HubSpot's descriptions`];
}

const OBJECTS = ['contacts', 'companies', 'deals'] as const;
const OPERATORS = [
  'EQ',
  'NEQ',
  'LT',
  'LTE',
  'GT',
  'GTE',
  'BETWEEN',
  'IN',
  'NOT_IN',
  'HAS_PROPERTY',
  'NOT_HAS_PROPERTY',
  'CONTAINS_TOKEN',
  'NOT_CONTAINS_TOKEN',
];
type ObjectType = (typeof OBJECTS)[number];
type Filter = { propertyName?: unknown; operator?: unknown; value?: unknown };

/**
 * https://developers.hubspot.com/docs/api/crm/search (default returned properties): contacts
 * return "createdate, email, firstname, hs_object_id, lastmodifieddate, and lastname", companies
 * and deals "createdate, hs_lastmodifieddate, hs_object_id" among theirs.
 */
export const lastModifiedProperty = (type: ObjectType): string => (type === 'contacts' ? 'lastmodifieddate' : 'hs_lastmodifieddate');

export class HubSpotEmulator {
  readonly objects: Record<ObjectType, Collection>;
  readonly rate: RateWindow;
  readonly invalidRequests: Array<{ request: RecordedRequest; errors: string[] }> = [];
  /**
   * How long a change stays out of search results. The search guide's limits: "It may take a few
   * moments for newly created or updated CRM objects to appear in search results" (third-party
   * measurements speak of "several seconds to propagate to the search indexing",
   * https://docs.locoia.com/connectors/connectors/hubspot).
   * 0 unless a test sets it: a record changed less than this long ago is not found (its earlier
   * version would carry an earlier modification date, outside the connector's filter anyway).
   */
  indexLagMs = 0;
  /** The last webhook request `notify` signed: what a test checks with HubSpot's library. */
  lastSigned?: { url: string; body: string; signature: string; timestamp: number };
  private readonly shapedCache = new WeakMap<ProviderRecord[], CrmObject[]>();

  private constructor(
    readonly provider: EmulatedProvider,
    readonly token: string,
  ) {
    this.objects = { contacts: provider.collection('contacts'), companies: provider.collection('companies'), deals: provider.collection('deals') };
    this.rate = new RateWindow(HUBSPOT_SEARCHES_PER_SECOND, 1000, () => provider.now());
    provider.requireAuth = { type: 'bearer', token };
    provider.unauthorized = {
      status: 401,
      body: {
        status: 'error',
        message:
          'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
        correlationId: randomUUID(),
        category: 'INVALID_AUTHENTICATION',
      },
    };
    for (const type of OBJECTS) provider.route('POST', `/crm/v3/objects/${type}/search`, (req) => this.search(req, type));
  }

  static async start(token = 'pat-na1-00000000-0000-0000-0000-000000000000'): Promise<HubSpotEmulator> {
    const hs = new HubSpotEmulator(await EmulatedProvider.start(), token);
    const descriptions = await hubSpotDescriptions();
    hs.provider.inspect = (req) => {
      const errors = validateHubSpotRequest(descriptions, req);
      if (!errors.length) return undefined;
      hs.invalidRequests.push({ request: req, errors });
      return { status: 400, body: { status: 'error', message: errors.join('; '), correlationId: randomUUID(), category: 'VALIDATION_ERROR' } };
    };
    return hs;
  }

  get baseUrl(): string {
    return this.provider.url;
  }

  throttleNext(n: number): void {
    this.provider.failNext(n, secondlyLimit(), { path: '/crm/v3/objects/' });
  }

  /** The collection's records as the search answers them, in last-modified order (cached until a change). */
  private shaped(type: ObjectType): CrmObject[] {
    const all = this.objects[type].all();
    let shaped = this.shapedCache.get(all);
    if (!shaped) {
      shaped = all.map((r) => shape(r, lastModifiedProperty(type)));
      this.shapedCache.set(all, shaped);
    }
    return shaped;
  }

  /**
   * Posts a batch of webhook events (HubSpot sends a JSON array) to `postTo`, signed v3-style over
   * method + the URL the app registered (`signedUrl`) + body + timestamp (ms) with `clientSecret`.
   */
  async notify(
    postTo: string,
    signedUrl: string,
    events: Array<{ subscriptionType: string; objectId: number; propertyName?: string; propertyValue?: string }>,
    clientSecret: string,
  ) {
    const occurredAt = this.provider.now();
    const body = JSON.stringify(
      events.map((e, i) => ({
        eventId: occurredAt + i,
        subscriptionId: 1234,
        portalId: 62515,
        appId: 54321,
        occurredAt,
        attemptNumber: 0,
        changeSource: 'CRM',
        ...e,
      })),
    );
    const timestamp = String(occurredAt);
    // HubSpot's own v3 signing (its Node library), not a reading of the docs.
    const signature = Signature.getSignature('POST', 'v3', { clientSecret, url: signedUrl, requestBody: body, timestamp: occurredAt, signature: '' });
    this.lastSigned = { url: signedUrl, body, signature, timestamp: occurredAt };
    return got.post(postTo, {
      body,
      headers: { 'content-type': 'application/json', 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': timestamp },
      throwHttpErrors: false,
      retry: { limit: 0 },
    });
  }

  close(): Promise<void> {
    return this.provider.close();
  }

  private search(req: RouteRequest, type: ObjectType): CannedResponse {
    if (this.rate.take().used > HUBSPOT_SEARCHES_PER_SECOND) return secondlyLimit();
    const invalid = (message: string): CannedResponse => ({
      status: 400,
      body: { status: 'error', message, correlationId: randomUUID(), category: 'VALIDATION_ERROR' },
    });
    const body = req.json as
      | {
          filterGroups?: Array<{ filters?: Filter[] }>;
          sorts?: Array<{ propertyName?: string; direction?: string }>;
          properties?: unknown;
          limit?: unknown;
          after?: unknown;
        }
      | undefined;
    if (!body || typeof body !== 'object') return invalid('Invalid input JSON: the body must be a JSON object');
    const unknown = Object.keys(body).filter((k) => !['filterGroups', 'sorts', 'query', 'properties', 'limit', 'after'].includes(k));
    if (unknown.length) return invalid(`Invalid input JSON on line 1: Unrecognized field "${unknown[0]}"`);
    const limit = body.limit ?? 10;
    // The published PublicObjectSearchRequest: limit is "The maximum results to return, up to 200
    // objects."; the guide: "The maximum number of supported objects per page is 200."
    if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > 200) return invalid('limit must be between 1 and 200');
    const after = body.after === undefined ? 0 : Number(body.after);
    if (!Number.isInteger(after) || after < 0) return invalid(`after "${String(body.after)}" is not a valid paging cursor`);
    if (after + (limit as number) > HUBSPOT_MAX_RESULTS)
      return invalid(`There was a problem with the request: a search can page through at most ${HUBSPOT_MAX_RESULTS} results`);
    if (req.body.length > MAX_QUERY_CHARS) return invalid(`The request body exceeds ${MAX_QUERY_CHARS} characters`);
    const filterCounts = (body.filterGroups ?? []).map((g) => g.filters?.length ?? 0);
    if (filterCounts.length > MAX_FILTER_GROUPS || filterCounts.some((n) => n > MAX_FILTERS_PER_GROUP) || filterCounts.reduce((a, b) => a + b, 0) > MAX_FILTERS)
      return invalid(`at most ${MAX_FILTER_GROUPS} filterGroups of ${MAX_FILTERS_PER_GROUP} filters, ${MAX_FILTERS} filters in all`);
    const lastModified = lastModifiedProperty(type);
    const groups: Array<(r: Record<string, unknown>) => boolean> = [];
    for (const group of body.filterGroups ?? []) {
      const filters: Array<(p: Record<string, unknown>) => boolean> = [];
      for (const f of group.filters ?? []) {
        if (typeof f.propertyName !== 'string' || !OPERATORS.includes(String(f.operator))) return invalid(`Invalid filter: ${JSON.stringify(f)}`);
        const isDate = f.propertyName === lastModified || f.propertyName === 'createdate';
        if (isDate && !/^\d+$/.test(String(f.value)))
          return invalid(`${f.propertyName} must be compared with a timestamp in epoch milliseconds, got ${JSON.stringify(f.value)}`);
        filters.push(compare(f.propertyName, String(f.operator), isDate ? Number(f.value) : f.value, isDate));
      }
      groups.push((p) => filters.every((test) => test(p)));
    }
    const sort = body.sorts?.[0];
    const indexedBefore = this.provider.now() - this.indexLagMs;
    let rows = this.shaped(type).filter(
      (r) => (this.indexLagMs === 0 || Date.parse(r.updatedAt) <= indexedBefore) && (groups.length === 0 || groups.some((g) => g(r.properties))),
    );
    // Records are kept in last-modified order: other sorts need sorting.
    if (sort?.propertyName && !(sort.propertyName === lastModified && sort.direction !== 'DESCENDING')) {
      rows = rows.sort(
        (a, b) =>
          cmp(a.properties[sort.propertyName!], b.properties[sort.propertyName!]) * (sort.direction === 'DESCENDING' ? -1 : 1) || Number(a.id) - Number(b.id),
      );
    }
    const results = rows.slice(after, after + (limit as number));
    const next =
      after + (limit as number) < rows.length ? { after: String(after + (limit as number)), link: `?after=${after + (limit as number)}` } : undefined;
    return { status: 200, body: { total: rows.length, results, ...(next ? { paging: { next } } : {}) } };
  }
}

function secondlyLimit(): CannedResponse {
  return {
    status: 429,
    body: { status: 'error', message: 'You have reached your secondly limit.', errorType: 'RATE_LIMIT', correlationId: randomUUID(), policyName: 'SECONDLY' },
  };
}

function cmp(a: unknown, b: unknown): number {
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

function compare(property: string, operator: string, value: unknown, isDate: boolean): (p: Record<string, unknown>) => boolean {
  const read = (p: Record<string, unknown>) => (isDate ? Date.parse(String(p[property])) : p[property]);
  switch (operator) {
    case 'GTE':
      return (p) => Number(read(p)) >= Number(value);
    case 'GT':
      return (p) => Number(read(p)) > Number(value);
    case 'LTE':
      return (p) => Number(read(p)) <= Number(value);
    case 'LT':
      return (p) => Number(read(p)) < Number(value);
    case 'EQ':
      return (p) => String(read(p)) === String(value);
    case 'NEQ':
      return (p) => String(read(p)) !== String(value);
    default:
      return () => true;
  }
}

/** A CRM object as the search answers it: string id, properties (all strings), ISO dates. */
type CrmObject = { id: string; properties: Record<string, unknown>; createdAt: string; updatedAt: string; archived: boolean };

function shape(r: ProviderRecord, lastModified: string): CrmObject {
  const { id, created_at, updated_at, ...rest } = r;
  const properties: Record<string, unknown> = { ...rest, hs_object_id: String(id), createdate: created_at, [lastModified]: updated_at };
  return { id: String(id), properties, createdAt: created_at, updatedAt: updated_at, archived: false };
}
