import type { RequestTemplate } from '../templates/request-template.js';

/**
 * The connector definition format (docs/connectors.md): its TypeScript types (the
 * JSON Schema that checks files in connectors/ and POST /elements is json-schema.ts).
 */
export type AuthDefinition =
  | { type: 'none' }
  | { type: 'basic'; username: string; password: string }
  | { type: 'bearer'; token: string }
  | { type: 'header'; name: string; value: string }
  | { type: 'query'; name: string; value: string }
  | OAuth2Definition
  | OAuth2ClientCredentialsDefinition
  | OAuth1Definition;

/** Authorization-code grant; URLs are request-template strings. */
export interface OAuth2Definition {
  type: 'oauth2';
  authorizationUrl: string;
  tokenUrl: string;
  scopes?: string[];
  scopeSeparator?: string;
  clientAuth?: 'body' | 'basic';
  authorizationParams?: Record<string, string>;
  tokenParams?: Record<string, string>;
  /** JSONPath into the token answer giving the API base (Salesforce's `$.instance_url`). */
  baseUrlFrom?: string;
  /** The API base from a call made with the new token (Atlassian's cloudId), once per grant. */
  baseUrlLookup?: BaseUrlLookup;
  /**
   * Query parameters the provider adds to its redirect beside `code` (Intuit's `realmId`), each
   * kept under a configuration key (connectors/callback-params.ts).
   */
  callbackParams?: Record<string, string>;
}

/**
 * After a code exchange (or a refresh that has no API base yet) pollgate GETs `url` with the new
 * access token, takes the items at `itemsPath` (default `$[*]`), picks the first whose value at
 * `match.path` equals the rendered `match.equals` — when the configuration sets `match.when`,
 * otherwise the first item — and renders `baseUrl` with `<%= context.value %>` = the item's value
 * at `valuePath`. The result is kept with the tokens.
 */
export interface BaseUrlLookup {
  url: string;
  itemsPath?: string;
  match?: { when?: string; path: string; equals: string };
  valuePath: string;
  baseUrl: string;
}

/**
 * One of several ways to authenticate (`"auth": [ … ]`): chosen for an instance whose
 * configuration sets every key of `when` (one key or a list); no `when` matches any instance. The
 * first alternative that matches applies.
 */
export type AuthAlternative = AuthDefinition & { when?: string | string[] };

export interface OAuth2ClientCredentialsDefinition {
  type: 'oauth2-client-credentials';
  tokenUrl: string;
  scopes?: string[];
  scopeSeparator?: string;
  clientAuth?: 'body' | 'basic';
  tokenParams?: Record<string, string>;
}

/** OAuth 1.0a (three-legged), every provider request signed. */
export interface OAuth1Definition {
  type: 'oauth1';
  requestTokenUrl: string;
  authorizeUrl: string;
  accessTokenUrl: string;
  signatureMethod?: 'HMAC-SHA1';
}

export type PaginationDefinition = { maxPages?: number } & (
  | { type: 'page'; pageParam: string; sizeParam?: string; size?: number; firstPage?: number }
  | {
      type: 'offset';
      offsetParam: string;
      sizeParam?: string;
      size?: number;
      /** The first record's offset (default 0; 1 for providers that count from one). */
      firstOffset?: number;
      /** The whole value of `offsetParam`, with `{offset}` and `{size}` in it (an offset inside a query statement). */
      valueTemplate?: string;
    }
  | {
      type: 'cursor';
      cursorPath: string;
      cursorParam: string;
      cursorIn?: 'query' | 'body';
      stopPath?: string;
      hasMorePath?: string;
      sizeParam?: string;
      size?: number;
    }
  | { type: 'link'; nextUrlPath?: string; stopPath?: string; allowedOrigins?: string[] }
);

/** One CEQL clause mapped to a provider query parameter; `format` re-expresses a date value. */
export interface WhereMapping {
  param: string;
  /** A Java date pattern, or `epoch:s` / `epoch:ms`, for the provider's form of a date value. */
  format?: string;
}

/** A record whose value at `path` (JSONPath) equals `equals` is a deleted one (Zendesk's status "deleted"). */
export interface DeletedWhen {
  path: string;
  equals: string | number | boolean;
}

/**
 * Bounds a provider puts on a deleted listing's time window (Salesforce's getDeleted: start within
 * the last 15 days, more than a minute before end): the since-time is moved into
 * [now - maxSeconds, now - minSeconds]. `coveredPath` (JSONPath on the last page, a date) is how far
 * the provider says the answer covers (`$.latestDateCovered`): the next poll starts from there.
 */
export interface DeletedWindow {
  maxSeconds?: number;
  minSeconds?: number;
  coveredPath?: string;
}

export interface ResourceDefinition {
  path: string;
  idField: string;
  recordsPath?: string;
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Keyed by field and operator, e.g. `"updated_at>"`. */
  where?: Record<string, WhereMapping>;
  pagination?: PaginationDefinition;
  deletes?: boolean;
  deletedWhen?: DeletedWhen;
}

export interface DatesConfiguration {
  updatedDateField?: string;
  updatedDateFormat?: string;
  createdDateField?: string;
  createdDateFormat?: string;
}

/**
 * A poller object that lists a provider's event log (Stripe's /v1/events) rather than the records:
 * each listed item is raised once (its `idField` is the item's id) as one event — or as the events
 * at `itemsPath` inside it (a log item that names several changes) — typed by `eventType`, about
 * the object at `objectId`, with the record at `recordPath` as its content.
 */
export interface PollerEventsDefinition {
  /** The events inside one log item (default: the item is one event); `@key` and `@path` read where each sits. */
  itemsPath?: string;
  objectId: MappingValue;
  eventType: NonNullable<WebhookDefinition['events']>['eventType'];
  date?: MappingValue;
  recordPath?: string | string[];
}

/**
 * A GraphQL listing (provider/graphql-listing.ts): the query is POSTed to the object's `url` with
 * `variables` (date templates render in them); the Relay connection at `connectionPath` holds the
 * records (`nodes` or `edges[].node`) and `pageInfo`; `pageInfo.endCursor` is the next page's
 * `cursorVariable` (default `after`) while `pageInfo.hasNextPage`. `costLimit` says where a
 * cost-metered server reports a query's cost and its bucket, and the error code of a throttled query.
 */
export interface GraphqlListingDefinition {
  query: string;
  variables?: Record<string, unknown>;
  connectionPath: string;
  cursorVariable?: string;
  costLimit?: { requestedPath: string; availablePath: string; restoreRatePath: string; throttledCode?: string };
}

/**
 * A change feed's limits (docs/connectors.md "Change-data-capture listings"): it answers only for
 * since-times within the last `maxSeconds` (older: the object's `baseline` listing runs instead, a
 * full listing), and at most `maxRecords` records at once (an answer that full is cut there: the
 * next poll starts from its last record's date). `recordsOptional`: an answer without the records
 * path is an empty one (a feed that leaves out the entities without changes).
 */
export interface ChangeWindow {
  maxSeconds?: number;
  maxRecords?: number;
  recordsOptional?: boolean;
}

/**
 * A second listing beside an object's own — its deleted records, or the full listing a change feed
 * falls back on (its `baseline`); what it leaves out defaults to the object's.
 */
export interface SideListing {
  url: string;
  idField?: string;
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  recordsPath?: string;
  pagination?: PaginationDefinition;
}

/**
 * Delta tokens as change detection (connectors/delta.ts, poller/delta.ts): the listing's last page
 * carries, at `tokenPath`, a token for "what changed since this listing"; it is stored per object and
 * sent on the next poll — as the query parameter `tokenParam`, or, without one, as the URL of the
 * next listing (a delta link). Without a stored token the poll lists everything (a full sync); an
 * answer with a status in `expiredStatus` (default 410) drops the token and resyncs in full.
 * `removedPath`: a record with a value there is a deletion; `fullSyncQuery`: query parameters sent
 * only without a token (those the provider refuses next to one are left out of `url`).
 */
export interface DeltaDefinition {
  tokenPath: string;
  tokenParam?: string;
  expiredStatus?: number[];
  removedPath?: string;
  fullSyncQuery?: Record<string, string>;
}

export interface PollerObjectDefinition {
  url: string;
  idField: string;
  /** Delta tokens: the listing is "what changed since the stored token". */
  delta?: DeltaDefinition;
  /** A GraphQL listing: in place of method, body, recordsPath and pagination. */
  graphql?: GraphqlListingDefinition;
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  recordsPath?: string;
  pagination?: PaginationDefinition;
  deletes?: boolean;
  datesConfiguration?: DatesConfiguration;
  events?: PollerEventsDefinition;
  deletedWhen?: DeletedWhen;
  /** A listing of deleted records (Freshdesk's `filter=deleted`): each change in it is DELETED. */
  deleted?: SideListing & { window?: DeletedWindow };
  /** A change feed's window and cap; `baseline` lists every record when the since-time is outside it. */
  window?: ChangeWindow;
  /** The full listing a change feed falls back on when its since-time is older than its window. */
  baseline?: SideListing;
  /** Minutes; overrides the instance's `event.poller.refresh_interval` for this object. */
  refresh_interval?: number | string;
  /** The since-time is at least this many seconds before the poll starts (a provider refuses a later one). */
  sinceAgeSeconds?: number;
  /**
   * Seconds the listing's since-time is moved back, beyond the poller's overlap: for providers whose
   * date filter is coarser than the watermark (a filter that compares whole days).
   */
  lookbackSeconds?: number;
}

export type MappingValue = string | string[];

/**
 * A webhook's signature check (docs/connectors.md "Webhooks"). `hmac`: the HMAC of `signedContent`
 * (default `{body}`; also `{timestamp}`, `{method}`, `{url}`, `{header:<Name>}`) in `header`, after
 * `prefix`. `hmac-parts`: `header` holds `key=value` parts, the timestamp under `parts.timestamp`
 * and signatures under `parts.signature`.
 */
export interface SignatureDefinition {
  scheme: 'hmac' | 'hmac-parts' | 'shared-secret' | 'standard-webhooks' | 'jwt' | 'none';
  algorithm?: 'sha1' | 'sha256' | 'sha512';
  header?: string;
  encoding?: 'hex' | 'base64';
  /** hmac, hmac-parts: how the rendered secret is turned into the HMAC key — its UTF-8 bytes (`utf8`, default) or the bytes it encodes in base64. */
  secretEncoding?: 'utf8' | 'base64';
  prefix?: string;
  signedContent?: string;
  timestampHeader?: string;
  /** hmac: instead of timestampHeader, a JSONPath to the timestamp in a JSON body. */
  timestampPath?: string;
  /** hmac-parts: the keys of the signature header's `key=value` parts. */
  parts?: { signature: string; timestamp?: string };
  toleranceSeconds?: number;
  /** A request-template string over the instance configuration. */
  secret?: string;
}

/** One of `signatures`: used when its `when` keys are all set and its `unless` keys none. */
export type SignatureAlternative = SignatureDefinition & { when?: string | string[]; unless?: string | string[] };

/**
 * A verification challenge the ingress answers before it expects events:
 * `echo-query` answers `?<param>=x` with `x`; `echo-body` answers a body whose `when.path` equals
 * `when.equals` (Slack's `url_verification`) with `{"challenge": <challengePath>}`.
 */
export type HandshakeDefinition = { type: 'echo-query'; param: string } | { type: 'echo-body'; when?: { path: string; equals: string }; challengePath: string };

/**
 * One provider-side webhook subscription made when a webhook-mode instance is created: `register`
 * is called with `context` {targetUrl, instanceId, registration, ...context}, the id found at
 * `webhookIdPath` in its answer is stored, and `deregister` gets it as `context.webhookId`.
 */
export interface WebhookRegistration {
  name: string;
  register: string;
  deregister?: string;
  /** A list of paths: a composite id (their values joined by spaces; `context.webhookIdParts` in templates). */
  webhookIdPath?: string | string[];
  /** A regular expression applied to the value at webhookIdPath; its first group is the id (Jira's `self` URL). */
  webhookIdPattern?: string;
  /** Literal values passed to both templates as `context.<key>` (e.g. a topic or an object type). */
  context?: Record<string, string>;
  /** The request template the instance check looks the registration up with (`context.webhookId`); 404/410 = gone. */
  check?: string;
  /** With `check` listing registrations: JSONPath to the ids in its answer, which must hold the stored one. */
  checkIdsPath?: string;
  /** Configuration keys that must all be set for this registration to be made (e.g. an OAuth client id). */
  when?: string | string[];
  /** Configuration keys none of which may be set for this registration to be made. */
  unless?: string | string[];
  /** The provider lets the webhook lapse unless it is refreshed (src/webhooks/refresh.ts). */
  expiry?: WebhookExpiry;
}

/**
 * When a registration lapses: the date at `expiresAtPath` in the register (or refresh) answer, else
 * `seconds` after it; `refresh` is the request template that extends it (`context.webhookId`).
 */
export interface WebhookExpiry {
  /** Without it the registration is renewed by registering anew (and deregistering the old one) before it lapses. */
  refresh?: string;
  expiresAtPath?: string;
  seconds?: number;
}
/** `{from, pattern?, map?, default?}`: a mapping value narrowed by a regular expression and a map. */
export type DerivedValue = { from: MappingValue; pattern?: string; map?: Record<string, string>; default?: string };

export interface WebhookDefinition {
  /** The one-registration shorthand (named "default"); `registrations` lists several. */
  register?: string;
  deregister?: string;
  webhookIdPath?: string;
  check?: string;
  checkIdsPath?: string;
  registrations?: WebhookRegistration[];
  /** A regular expression applied to the value at webhookIdPath; its first group is the id (Jira's `self` URL). */
  webhookIdPattern?: string;
  /** Configuration key → JSONPath into the register answer: kept (encrypted when secret) unless the instance set it (Stripe's `secret`). */
  saveFromResponse?: Record<string, string>;
  signature?: SignatureDefinition;
  /** Instead of `signature`: alternatives chosen by the configuration (an admin webhook's HMAC with basic auth, a JWT with OAuth). */
  signatures?: SignatureAlternative[];
  handshake?: HandshakeDefinition;
  /**
   * A secret every item of a notification carries (a subscription's client state): items whose
   * value at `path` differs from the rendered `secret` are dropped; a body none of whose items
   * carries it is refused with 401.
   */
  itemSecret?: { path: string; secret: string };
  /**
   * Items about the subscription itself rather than a record: the value at `from` names an
   * action — `renew` (refresh the registration now), `recreate` (register it anew, then poll),
   * `reconcile` (poll the instance's objects now). `subscriptionIdPath` names the registration.
   */
  lifecycle?: { from: string; subscriptionIdPath?: string; actions: Record<string, LifecycleAction> };
  /** The header whose value makes a retried delivery a duplicate. */
  deliveryIdHeader?: string;
  /** Else a JSONPath into the body for that id (an event id the provider keeps across retries). */
  deliveryIdPath?: string;
  /**
   * Thin notifications (webhooks/poll-on-notification.ts): a notification only says that something
   * changed; its signature is checked and these poller objects are polled now, nothing is mapped.
   */
  pollOnNotification?: string[];
  /**
   * The poller objects of webhook-mode instances, in place of `events.poller` (a provider's change
   * log read from a cursor the notification says has moved on).
   */
  poller?: Record<string, PollerObjectDefinition>;
  /** What a notification is answered with: 202 and a JSON receipt (default), or 200/204 with no body (a provider that asks so). */
  acknowledgeStatus?: 200 | 202 | 204;
  events?: {
    itemsPath?: string;
    objectType: MappingValue | DerivedValue;
    objectId: MappingValue;
    eventType: MappingValue | DerivedValue;
    date?: MappingValue;
    /** JSONPaths to the record inside an item (the first that finds an object); default the item. */
    recordPath?: string | string[];
    /** Items whose `from` value is one of `values` raise nothing (GitHub's ping). */
    ignore?: { from: MappingValue; values: string[] };
    /** Thin notifications: the record is fetched (webhooks/thin-fetch.ts). */
    fetch?: WebhookFetch;
  };
}

export type LifecycleAction = 'renew' | 'recreate' | 'reconcile';

/**
 * A notification that says only that a record changed: for each item not DELETED the request
 * template `request` (one name, or a name per object type) is called with `context.<key>` = the
 * item's value at each `context` JSONPath, and its answer is the record. A 404 or 410 answer makes
 * the event DELETED. An object type the map does not name keeps the item as its record.
 */
export interface WebhookFetch {
  request: string | Record<string, string>;
  context: Record<string, string>;
}

export interface ConfigurationField {
  key: string;
  required?: boolean;
  secret?: boolean;
  type?: 'string' | 'number' | 'boolean';
  default?: string | number | boolean;
  /** When the instance leaves it empty, pollgate fills in 32 random bytes as hex (a webhook secret it registers). */
  generate?: boolean;
  description?: string;
}

/**
 * A provider value read once when an instance is created, in either mode: the request template
 * `request` is invoked and the value at each `save` JSONPath is stored under its configuration key
 * when the instance left that key empty (Jira's user time zone, `GET /rest/api/3/myself` →
 * `$.timeZone`, as `event.poller.timezone`).
 */
export interface InstanceLookup {
  request: string;
  save: Record<string, string>;
}

export interface ConnectorDefinition {
  key: string;
  name: string;
  hub?: string;
  description?: string;
  configuration?: ConfigurationField[];
  baseUrl?: string;
  /** One auth, or alternatives chosen by configuration (see AuthAlternative). */
  auth?: AuthDefinition | AuthAlternative[];
  resources?: Record<string, ResourceDefinition>;
  events?: {
    supported: Array<'polling' | 'webhook'>;
    poller?: Record<string, PollerObjectDefinition>;
    webhook?: WebhookDefinition;
    lookups?: InstanceLookup[];
  };
  requests?: Record<string, RequestTemplate>;
  /** The provider's request budget, shared by the instances of one `scope` (provider/rate-budget.ts). */
  rateLimit?: RateLimitDefinition;
  /** Rate-limit headers the provider answers with. */
  rateLimitHeaders?: RateLimitHeadersDefinition;
}

/**
 * `requests` per `perSeconds` (given together), for the instances whose `scope` (a request-template
 * string over the configuration, e.g. the account's domain) renders alike; default: each instance.
 */
export interface RateLimitDefinition {
  requests?: number;
  perSeconds?: number;
  scope?: string;
}

/**
 * `remaining`/`reset`: a header counting the requests left and one saying when the budget comes
 * back (`resetIn`: seconds from now, or an epoch time). `bucket`: a `used/size` leaky-bucket header
 * (Shopify's `X-Shopify-Shop-Api-Call-Limit: 32/40`) draining `leakPerSecond`.
 */
export interface RateLimitHeadersDefinition {
  remaining?: string;
  reset?: string;
  resetIn?: 'seconds' | 'epoch-seconds' | 'epoch-ms';
  bucket?: string;
  leakPerSecond?: number;
}
