import type { RequestTemplate } from '../templates/request-template.js';

/**
 * The connector definition format (DESIGN.md "Connector definition"): its TypeScript types and the
 * one JSON Schema that checks files in connectors/ and POST /elements alike.
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
}

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

export const OAUTH_TYPES = ['oauth2', 'oauth2-client-credentials', 'oauth1'] as const;

export type PaginationDefinition = { maxPages?: number } & (
  | { type: 'page'; pageParam: string; sizeParam?: string; size?: number; firstPage?: number }
  | { type: 'offset'; offsetParam: string; sizeParam?: string; size?: number }
  | { type: 'cursor'; cursorPath: string; cursorParam: string; cursorIn?: 'query' | 'body'; stopPath?: string; hasMorePath?: string; sizeParam?: string; size?: number }
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
 * each listed item is one event, raised once (its `idField` is the event's id), typed by
 * `eventType`, about the object at `objectId`, with the record at `recordPath` as its content.
 */
export interface PollerEventsDefinition {
  objectId: MappingValue;
  eventType: WebhookDefinition['events']['eventType'];
  date?: MappingValue;
  recordPath?: string | string[];
}

export interface PollerObjectDefinition {
  url: string;
  idField: string;
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
  deleted?: { url: string; idField?: string; method?: string; body?: unknown; headers?: Record<string, string>; recordsPath?: string; pagination?: PaginationDefinition };
  /** Minutes; overrides the instance's `event.poller.refresh_interval` for this object. */
  refresh_interval?: number | string;
}

export type MappingValue = string | string[];

export interface SignatureDefinition {
  scheme: 'hmac' | 'shared-secret' | 'github' | 'stripe' | 'shopify' | 'standard-webhooks' | 'none';
  algorithm?: 'sha1' | 'sha256';
  header?: string;
  encoding?: 'hex' | 'base64';
  prefix?: string;
  signedContent?: string;
  timestampHeader?: string;
  toleranceSeconds?: number;
  /** A request-template string over the instance configuration. */
  secret?: string;
}

/**
 * A verification challenge the ingress answers before it expects events:
 * `echo-query` answers `?<param>=x` with `x`; `echo-body` answers a body whose `when.path` equals
 * `when.equals` (Slack's `url_verification`) with `{"challenge": <challengePath>}`.
 */
export type HandshakeDefinition =
  | { type: 'echo-query'; param: string }
  | { type: 'echo-body'; when?: { path: string; equals: string }; challengePath: string };

/**
 * One provider-side webhook subscription made when a webhook-mode instance is created: `register`
 * is called with `context` {targetUrl, instanceId, registration, ...context}, the id found at
 * `webhookIdPath` in its answer is stored, and `deregister` gets it as `context.webhookId`.
 */
export interface WebhookRegistration {
  name: string;
  register: string;
  deregister?: string;
  webhookIdPath?: string;
  /** A regular expression applied to the value at webhookIdPath; its first group is the id (Jira's `self` URL). */
  webhookIdPattern?: string;
  /** Literal values passed to both templates as `context.<key>` (e.g. a topic or an object type). */
  context?: Record<string, string>;
}
/** `{from, pattern?, map?, default?}`: a mapping value narrowed by a regular expression and a map. */
export type DerivedValue = { from: MappingValue; pattern?: string; map?: Record<string, string>; default?: string };

export interface WebhookDefinition {
  /** The one-registration shorthand (named "default"); `registrations` lists several. */
  register?: string;
  deregister?: string;
  webhookIdPath?: string;
  registrations?: WebhookRegistration[];
  /** A regular expression applied to the value at webhookIdPath; its first group is the id (Jira's `self` URL). */
  webhookIdPattern?: string;
  /** Configuration key → JSONPath into the register answer: kept (encrypted when secret) unless the instance set it (Stripe's `secret`). */
  saveFromResponse?: Record<string, string>;
  signature?: SignatureDefinition;
  handshake?: HandshakeDefinition;
  deliveryIdHeader?: string;
  events: {
    itemsPath?: string;
    objectType: MappingValue | DerivedValue;
    objectId: MappingValue;
    eventType: MappingValue | DerivedValue;
    date?: MappingValue;
    /** JSONPaths to the record inside an item (the first that finds an object); default the item. */
    recordPath?: string | string[];
    /** Items whose `from` value is one of `values` raise nothing (GitHub's ping). */
    ignore?: { from: MappingValue; values: string[] };
  };
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

export interface ConnectorDefinition {
  key: string;
  name: string;
  hub?: string;
  description?: string;
  configuration?: ConfigurationField[];
  baseUrl?: string;
  auth?: AuthDefinition;
  resources?: Record<string, ResourceDefinition>;
  events?: {
    supported: Array<'polling' | 'webhook'>;
    poller?: Record<string, PollerObjectDefinition>;
    webhook?: WebhookDefinition;
  };
  requests?: Record<string, RequestTemplate>;
  /** Rate-limit headers the provider answers with; `bucket` names a `used/size` leaky-bucket header (Shopify). */
  rateLimitHeaders?: { bucket?: string; leakPerSecond?: number };
}

const str = { type: 'string', minLength: 1 };
const stringMap = { type: 'object', additionalProperties: { type: 'string' } };
const mappingValue = { oneOf: [str, { type: 'array', items: str, minItems: 1 }] };
const derivedValue = {
  type: 'object', required: ['from'], additionalProperties: false,
  properties: { from: mappingValue, pattern: str, map: stringMap, default: str },
};
const recordPaths = { oneOf: [str, { type: 'array', items: str, minItems: 1 }] };
const pollerEvents = {
  type: 'object', required: ['objectId', 'eventType'], additionalProperties: false,
  properties: { objectId: mappingValue, eventType: { oneOf: [mappingValue, derivedValue] }, date: mappingValue, recordPath: recordPaths },
};

const pagination = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { enum: ['page', 'offset', 'cursor', 'link'] },
    maxPages: { type: 'integer', minimum: 1 },
    pageParam: str, sizeParam: str, size: { type: 'integer', minimum: 1 }, firstPage: { type: 'integer', minimum: 0 },
    offsetParam: str,
    cursorPath: str, cursorParam: str, cursorIn: { enum: ['query', 'body'] }, stopPath: str, hasMorePath: str,
    nextUrlPath: str,
    // Origins (scheme://host[:port]) besides the listing's own that next links may lead to.
    allowedOrigins: { type: 'array', items: { type: 'string', pattern: '^https?://[^/?#]+$' }, maxItems: 20 },
  },
  additionalProperties: false,
  allOf: [
    { if: { properties: { type: { const: 'page' } } }, then: { required: ['pageParam'] } },
    { if: { properties: { type: { const: 'offset' } } }, then: { required: ['offsetParam'] } },
    { if: { properties: { type: { const: 'cursor' } } }, then: { required: ['cursorPath', 'cursorParam'] } },
  ],
};

const requestShape = {
  method: { enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'get', 'post', 'put', 'patch', 'delete'] },
  body: {},
  headers: stringMap,
  recordsPath: str,
  pagination,
  deletes: { type: 'boolean' },
  deletedWhen: { type: 'object', required: ['path', 'equals'], additionalProperties: false, properties: { path: str, equals: { type: ['string', 'number', 'boolean'] } } },
};

const datesConfiguration = {
  type: 'object',
  properties: { updatedDateField: str, updatedDateFormat: str, createdDateField: str, createdDateFormat: str },
  additionalProperties: false,
};

export const connectorSchema = {
  $id: 'https://pollgate.dev/schemas/connector.json',
  type: 'object',
  required: ['key', 'name'],
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    key: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' },
    // No control or bidirectional-formatting characters (the same rule as api/text.ts).
    name: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\ufeff]+$' },
    hub: { type: 'string', pattern: '^[a-z0-9_-]+$' },
    description: { type: 'string' },
    configuration: {
      type: 'array',
      items: {
        type: 'object',
        required: ['key'],
        additionalProperties: false,
        properties: {
          key: str, required: { type: 'boolean' }, secret: { type: 'boolean' }, type: { enum: ['string', 'number', 'boolean'] },
          default: { type: ['string', 'number', 'boolean'] }, generate: { type: 'boolean' }, description: { type: 'string' },
        },
      },
    },
    baseUrl: str,
    auth: {
      type: 'object',
      required: ['type'],
      properties: {
        type: { enum: ['none', 'basic', 'bearer', 'header', 'query', 'oauth2', 'oauth2-client-credentials', 'oauth1'] },
        username: { type: 'string' }, password: { type: 'string' }, token: str, name: str, value: str,
        authorizationUrl: str, tokenUrl: str, scopes: { type: 'array', items: str, maxItems: 100 }, scopeSeparator: { type: 'string', maxLength: 8 },
        clientAuth: { enum: ['body', 'basic'] }, authorizationParams: stringMap, tokenParams: stringMap, baseUrlFrom: str,
        requestTokenUrl: str, authorizeUrl: str, accessTokenUrl: str, signatureMethod: { const: 'HMAC-SHA1' },
      },
      additionalProperties: false,
      allOf: [
        { if: { properties: { type: { const: 'basic' } } }, then: { required: ['username', 'password'] } },
        { if: { properties: { type: { const: 'bearer' } } }, then: { required: ['token'] } },
        { if: { properties: { type: { enum: ['header', 'query'] } } }, then: { required: ['name', 'value'] } },
        { if: { properties: { type: { const: 'oauth2' } } }, then: { required: ['authorizationUrl', 'tokenUrl'] } },
        { if: { properties: { type: { const: 'oauth2-client-credentials' } } }, then: { required: ['tokenUrl'] } },
        { if: { properties: { type: { const: 'oauth1' } } }, then: { required: ['requestTokenUrl', 'authorizeUrl', 'accessTokenUrl'] } },
      ],
    },
    resources: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['path', 'idField'],
        additionalProperties: false,
        properties: {
          path: str,
          idField: str,
          where: {
            type: 'object',
            propertyNames: { pattern: '^[A-Za-z_][\\w.]*(=|!=|>|>=|<|<=)$' },
            additionalProperties: { type: 'object', required: ['param'], properties: { param: str, format: str }, additionalProperties: false },
          },
          ...requestShape,
        },
      },
    },
    events: {
      type: 'object',
      required: ['supported'],
      additionalProperties: false,
      properties: {
        supported: { type: 'array', items: { enum: ['polling', 'webhook'] }, minItems: 1, uniqueItems: true },
        poller: {
          type: 'object',
          additionalProperties: {
            type: 'object',
            required: ['url', 'idField'],
            additionalProperties: false,
            properties: {
              url: str, idField: str, datesConfiguration, events: pollerEvents, ...requestShape,
              // refresh_interval: this object's poll interval in minutes (else the instance's).
              refresh_interval: { type: ['number', 'string'] },
              deleted: {
                type: 'object', required: ['url'], additionalProperties: false,
                properties: { url: str, idField: str, method: requestShape.method, body: {}, headers: stringMap, recordsPath: str, pagination },
              },
            },
          },
        },
        webhook: {
          type: 'object',
          required: ['events'],
          additionalProperties: false,
          properties: {
            register: str, deregister: str, webhookIdPath: str, webhookIdPattern: str, deliveryIdHeader: str,
            saveFromResponse: { type: 'object', additionalProperties: str },
            registrations: {
              type: 'array',
              minItems: 1,
              maxItems: 50,
              items: {
                type: 'object',
                required: ['name', 'register'],
                additionalProperties: false,
                properties: { name: { type: 'string', pattern: '^[A-Za-z0-9_./:-]{1,64}$' }, register: str, deregister: str, webhookIdPath: str, webhookIdPattern: str, context: stringMap },
              },
            },
            signature: {
              type: 'object',
              required: ['scheme'],
              additionalProperties: false,
              properties: {
                scheme: { enum: ['hmac', 'shared-secret', 'github', 'stripe', 'shopify', 'standard-webhooks', 'none'] },
                algorithm: { enum: ['sha1', 'sha256'] }, header: str, encoding: { enum: ['hex', 'base64'] }, prefix: str,
                signedContent: str, timestampHeader: str, toleranceSeconds: { type: 'number', minimum: 0 }, secret: str,
              },
              if: { properties: { scheme: { enum: ['hmac', 'shared-secret'] } } },
              then: { required: ['header'] },
            },
            handshake: {
              type: 'object',
              required: ['type'],
              additionalProperties: false,
              properties: {
                type: { enum: ['echo-query', 'echo-body'] },
                param: str,
                challengePath: str,
                when: { type: 'object', required: ['path', 'equals'], additionalProperties: false, properties: { path: str, equals: { type: 'string' } } },
              },
              allOf: [
                { if: { properties: { type: { const: 'echo-query' } } }, then: { required: ['param'] } },
                { if: { properties: { type: { const: 'echo-body' } } }, then: { required: ['challengePath'] } },
              ],
            },
            events: {
              type: 'object',
              required: ['objectType', 'objectId', 'eventType'],
              additionalProperties: false,
              properties: {
                itemsPath: str, objectType: { oneOf: [mappingValue, derivedValue] }, objectId: mappingValue, date: mappingValue, recordPath: recordPaths,
                eventType: { oneOf: [mappingValue, derivedValue] },
                ignore: { type: 'object', required: ['from', 'values'], additionalProperties: false, properties: { from: mappingValue, values: { type: 'array', items: { type: 'string' } } } },
              },
            },
          },
        },
      },
    },
    rateLimitHeaders: {
      type: 'object',
      additionalProperties: false,
      properties: { bucket: str, leakPerSecond: { type: 'number', exclusiveMinimum: 0 } },
    },
    requests: {
      type: 'object',
      maxProperties: 100,
      additionalProperties: {
        type: 'object',
        required: ['schema'],
        additionalProperties: false,
        properties: {
          schema: {
            type: 'object',
            additionalProperties: false,
            properties: {
              method: requestShape.method, protocol: { type: 'string', pattern: '^[Hh][Tt][Tt][Pp][Ss]?$' }, host: str, path: { type: 'string' },
              query: stringMap, headers: stringMap, body: {},
            },
          },
          secretsInBody: { type: 'array', items: str, uniqueItems: true },
          options: {
            type: 'object',
            additionalProperties: false,
            properties: {
              maxAttempts: { type: 'integer' }, retryDelay: { type: 'number' }, timeout: { type: 'number' }, isOAuth: { type: 'boolean' },
            },
          },
        },
      },
    },
  },
} as const;
