/**
 * The one JSON Schema of the connector format: it checks files in connectors/ and POST /elements
 * alike (the TypeScript types are in schema.ts; semantic checks in validate.ts).
 */
const str = { type: 'string', minLength: 1 };

/** A webhook's signature check (`signature`, or each of `signatures`). */
const signatureSchema = {
  type: 'object',
  required: ['scheme'],
  additionalProperties: false,
  properties: {
    scheme: { enum: ['hmac', 'hmac-parts', 'shared-secret', 'standard-webhooks', 'jwt', 'none'] },
    algorithm: { enum: ['sha1', 'sha256', 'sha512'] },
    header: str,
    encoding: { enum: ['hex', 'base64'] },
    secretEncoding: { enum: ['utf8', 'base64'] },
    prefix: str,
    signedContent: str,
    timestampHeader: str,
    timestampPath: str,
    parts: {
      type: 'object',
      required: ['signature'],
      additionalProperties: false,
      properties: { signature: { type: 'string', pattern: '^[^,=\\s]{1,64}$' }, timestamp: { type: 'string', pattern: '^[^,=\\s]{1,64}$' } },
    },
    toleranceSeconds: { type: 'number', minimum: 0 },
    secret: str,
  },
  allOf: [
    { if: { properties: { scheme: { enum: ['hmac', 'hmac-parts', 'shared-secret'] } } }, then: { required: ['header'] } },
    { if: { properties: { scheme: { const: 'hmac-parts' } } }, then: { required: ['parts'] } },
  ],
};
/** An HTTP header name (RFC 9110 token). */
const headerName = { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$" };
const stringMap = { type: 'object', additionalProperties: { type: 'string' } };
const mappingValue = { oneOf: [str, { type: 'array', items: str, minItems: 1 }] };
const derivedValue = {
  type: 'object',
  required: ['from'],
  additionalProperties: false,
  properties: { from: mappingValue, pattern: str, map: stringMap, default: str },
};
const recordPaths = { oneOf: [str, { type: 'array', items: str, minItems: 1 }] };
const pollerEvents = {
  type: 'object',
  required: ['objectId', 'eventType'],
  additionalProperties: false,
  properties: { itemsPath: str, objectId: mappingValue, eventType: { oneOf: [mappingValue, derivedValue] }, date: mappingValue, recordPath: recordPaths },
};

const pagination = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { enum: ['page', 'offset', 'cursor', 'link'] },
    maxPages: { type: 'integer', minimum: 1 },
    pageParam: str,
    sizeParam: str,
    size: { type: 'integer', minimum: 1 },
    firstPage: { type: 'integer', minimum: 0 },
    offsetParam: str,
    firstOffset: { type: 'integer', minimum: 0 },
    valueTemplate: { type: 'string', pattern: '\\{offset\\}' },
    cursorPath: str,
    cursorParam: str,
    cursorIn: { enum: ['query', 'body'] },
    stopPath: str,
    hasMorePath: str,
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

/** A GraphQL listing (provider/graphql-listing.ts); it sets method, body, recordsPath and pagination itself. */
const graphqlListing = {
  type: 'object',
  required: ['query', 'connectionPath'],
  additionalProperties: false,
  properties: {
    query: str,
    variables: { type: 'object' },
    connectionPath: str,
    cursorVariable: { type: 'string', pattern: '^[_A-Za-z][_0-9A-Za-z]*$' },
    costLimit: {
      type: 'object',
      required: ['requestedPath', 'availablePath', 'restoreRatePath'],
      additionalProperties: false,
      properties: { requestedPath: str, availablePath: str, restoreRatePath: str, throttledCode: str },
    },
  },
};

/** Delta tokens (connectors/delta.ts): where the last page carries the token and how the next poll sends it. */
const delta = {
  type: 'object',
  required: ['tokenPath'],
  additionalProperties: false,
  properties: {
    tokenPath: str,
    tokenParam: { type: 'string', minLength: 1, maxLength: 100 },
    expiredStatus: { type: 'array', items: { type: 'integer', minimum: 400, maximum: 599 }, minItems: 1, maxItems: 10 },
    removedPath: str,
    fullSyncQuery: stringMap,
  },
};

const requestShape = {
  method: { enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'get', 'post', 'put', 'patch', 'delete'] },
  body: {},
  headers: stringMap,
  recordsPath: str,
  pagination,
  deletes: { type: 'boolean' },
  deletedWhen: {
    type: 'object',
    required: ['path', 'equals'],
    additionalProperties: false,
    properties: { path: str, equals: { type: ['string', 'number', 'boolean'] } },
  },
};

/** The fields of a listing beside an object's own: its deleted records, or a change feed's baseline. */
const sideListing = { url: str, idField: str, method: requestShape.method, body: {}, headers: stringMap, recordsPath: str, pagination };

const datesConfiguration = {
  type: 'object',
  properties: { updatedDateField: str, updatedDateFormat: str, createdDateField: str, createdDateFormat: str },
  additionalProperties: false,
};

/** One poller object (`events.poller.<type>`, `events.webhook.poller.<type>`). */
const pollerObject = {
  type: 'object',
  required: ['url', 'idField'],
  additionalProperties: false,
  properties: {
    url: str,
    idField: str,
    datesConfiguration,
    events: pollerEvents,
    graphql: graphqlListing,
    delta,
    ...requestShape,
    // refresh_interval: this object's poll interval in minutes (else the instance's).
    refresh_interval: { type: ['number', 'string'] },
    // sinceAgeSeconds: the since-time is never later than this long before the poll (a provider
    // that refuses a start time closer to now than that).
    sinceAgeSeconds: { type: 'integer', minimum: 0 },
    // Seconds the since-time is moved back for a coarse date filter (at most a week).
    lookbackSeconds: { type: 'integer', minimum: 0, maximum: 604_800 },
    // A change feed's window (docs/connectors.md "Change-data-capture listings").
    window: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: {
        maxSeconds: { type: 'integer', minimum: 60 },
        maxRecords: { type: 'integer', minimum: 1 },
        recordsOptional: { type: 'boolean' },
      },
    },
    baseline: { type: 'object', required: ['url'], additionalProperties: false, properties: sideListing },
    deleted: {
      type: 'object',
      required: ['url'],
      additionalProperties: false,
      properties: {
        ...sideListing,
        window: {
          type: 'object',
          additionalProperties: false,
          properties: { maxSeconds: { type: 'integer', minimum: 60 }, minSeconds: { type: 'integer', minimum: 0 }, coveredPath: str },
        },
      },
    },
  },
};
/** Poller objects by object type. */
const pollerObjects = { type: 'object', additionalProperties: pollerObject };

const baseUrlLookup = {
  type: 'object',
  required: ['url', 'valuePath', 'baseUrl'],
  additionalProperties: false,
  properties: {
    url: str,
    itemsPath: str,
    valuePath: str,
    baseUrl: str,
    match: { type: 'object', required: ['path', 'equals'], additionalProperties: false, properties: { when: str, path: str, equals: str } },
  },
};

const authDefinition = {
  type: 'object',
  required: ['type'],
  properties: {
    when: { oneOf: [str, { type: 'array', items: str, minItems: 1, maxItems: 20 }] },
    type: { enum: ['none', 'basic', 'bearer', 'header', 'query', 'oauth2', 'oauth2-client-credentials', 'oauth1'] },
    username: { type: 'string' },
    password: { type: 'string' },
    token: str,
    name: str,
    value: str,
    authorizationUrl: str,
    tokenUrl: str,
    scopes: { type: 'array', items: str, maxItems: 100 },
    scopeSeparator: { type: 'string', maxLength: 8 },
    clientAuth: { enum: ['body', 'basic'] },
    authorizationParams: stringMap,
    // Redirect query parameters kept as configuration keys (Intuit's realmId).
    callbackParams: { type: 'object', maxProperties: 10, propertyNames: { pattern: '^[A-Za-z0-9_.-]{1,64}$' }, additionalProperties: str },
    tokenParams: stringMap,
    baseUrlFrom: str,
    baseUrlLookup,
    requestTokenUrl: str,
    authorizeUrl: str,
    accessTokenUrl: str,
    signatureMethod: { const: 'HMAC-SHA1' },
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
    name: {
      type: 'string',
      minLength: 1,
      maxLength: 255,
      pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\ufeff]+$',
    },
    hub: { type: 'string', pattern: '^[a-z0-9_-]+$' },
    description: { type: 'string' },
    configuration: {
      type: 'array',
      items: {
        type: 'object',
        required: ['key'],
        additionalProperties: false,
        properties: {
          key: str,
          required: { type: 'boolean' },
          secret: { type: 'boolean' },
          type: { enum: ['string', 'number', 'boolean'] },
          default: { type: ['string', 'number', 'boolean'] },
          generate: { type: 'boolean' },
          description: { type: 'string' },
        },
      },
    },
    baseUrl: str,
    // One auth, or alternatives chosen by the configuration keys each names in `when`.
    auth: { if: { type: 'array' }, then: { items: authDefinition, minItems: 1, maxItems: 8 }, else: authDefinition },
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
        lookups: {
          type: 'array',
          items: {
            type: 'object',
            required: ['request', 'save'],
            additionalProperties: false,
            properties: { request: str, save: { type: 'object', minProperties: 1, additionalProperties: str } },
          },
        },
        poller: pollerObjects,
        webhook: {
          type: 'object',
          // An event mapping, or thin notifications that poll objects now (or both).
          anyOf: [{ required: ['events'] }, { required: ['pollOnNotification'] }],
          additionalProperties: false,
          properties: {
            pollOnNotification: { type: 'array', items: str, minItems: 1, maxItems: 50, uniqueItems: true },
            // The poller objects of webhook-mode instances, in place of events.poller (a provider's change log).
            poller: pollerObjects,
            // What a notification is answered with: 202 and a JSON receipt (default), or 200/204 with no body.
            acknowledgeStatus: { enum: [200, 202, 204] },
            register: str,
            deregister: str,
            webhookIdPath: str,
            webhookIdPattern: str,
            check: str,
            checkIdsPath: str,
            deliveryIdHeader: str,
            deliveryIdPath: str,
            saveFromResponse: { type: 'object', additionalProperties: str },
            registrations: {
              type: 'array',
              minItems: 1,
              maxItems: 50,
              items: {
                type: 'object',
                required: ['name', 'register'],
                additionalProperties: false,
                properties: {
                  name: { type: 'string', pattern: '^[A-Za-z0-9_./:-]{1,64}$' },
                  register: str,
                  deregister: str,
                  // A list: a composite id (a channel's id and its resource's id), joined by spaces.
                  webhookIdPath: { anyOf: [str, { type: 'array', items: str, minItems: 1, maxItems: 5 }] },
                  webhookIdPattern: str,
                  check: str,
                  checkIdsPath: str,
                  context: stringMap,
                  // when/unless: configuration keys that must all be set / none set for it to be made.
                  when: { anyOf: [str, { type: 'array', items: str, minItems: 1 }] },
                  unless: { anyOf: [str, { type: 'array', items: str, minItems: 1 }] },
                  expiry: {
                    type: 'object',
                    // Without refresh: renewed by registering anew before it lapses (and deregistering the old one).
                    additionalProperties: false,
                    anyOf: [{ required: ['expiresAtPath'] }, { required: ['seconds'] }],
                    properties: { refresh: str, expiresAtPath: str, seconds: { type: 'integer', minimum: 60 } },
                  },
                },
              },
            },
            signature: signatureSchema,
            // signatures: alternatives chosen by the configuration, each with when/unless keys.
            signatures: {
              type: 'array',
              minItems: 1,
              items: {
                ...signatureSchema,
                properties: {
                  ...signatureSchema.properties,
                  when: { anyOf: [str, { type: 'array', items: str, minItems: 1 }] },
                  unless: { anyOf: [str, { type: 'array', items: str, minItems: 1 }] },
                },
              },
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
                itemsPath: str,
                objectType: { oneOf: [mappingValue, derivedValue] },
                objectId: mappingValue,
                date: mappingValue,
                recordPath: recordPaths,
                eventType: { oneOf: [mappingValue, derivedValue] },
                ignore: {
                  type: 'object',
                  required: ['from', 'values'],
                  additionalProperties: false,
                  properties: { from: mappingValue, values: { type: 'array', items: { type: 'string' } } },
                },
                fetch: {
                  type: 'object',
                  required: ['request', 'context'],
                  additionalProperties: false,
                  properties: {
                    request: { oneOf: [str, { type: 'object', minProperties: 1, additionalProperties: str }] },
                    context: { type: 'object', additionalProperties: str },
                  },
                },
              },
            },
            itemSecret: {
              type: 'object',
              required: ['path', 'secret'],
              additionalProperties: false,
              properties: { path: str, secret: str },
            },
            lifecycle: {
              type: 'object',
              required: ['from', 'actions'],
              additionalProperties: false,
              properties: {
                from: str,
                subscriptionIdPath: str,
                actions: { type: 'object', minProperties: 1, additionalProperties: { enum: ['renew', 'recreate', 'reconcile'] } },
              },
            },
          },
        },
      },
    },
    rateLimit: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: {
        requests: { type: 'integer', minimum: 1, maximum: 1_000_000 },
        // Up to a day: daily quotas (HubSpot's, Salesforce's) are the longest windows providers use.
        perSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 86_400 },
        scope: { type: 'string', minLength: 1, maxLength: 500 },
      },
      dependencies: { requests: ['perSeconds'], perSeconds: ['requests'] },
    },
    rateLimitHeaders: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: {
        remaining: headerName,
        reset: headerName,
        resetIn: { enum: ['seconds', 'epoch-seconds', 'epoch-ms'] },
        bucket: headerName,
        leakPerSecond: { type: 'number', exclusiveMinimum: 0, maximum: 100_000 },
      },
      dependencies: { reset: ['resetIn'], resetIn: ['reset'], leakPerSecond: ['bucket'] },
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
              method: requestShape.method,
              protocol: { type: 'string', pattern: '^[Hh][Tt][Tt][Pp][Ss]?$' },
              host: str,
              path: { type: 'string' },
              query: stringMap,
              headers: stringMap,
              body: {},
            },
          },
          secretsInBody: { type: 'array', items: str, uniqueItems: true },
          options: {
            type: 'object',
            additionalProperties: false,
            properties: {
              maxAttempts: { type: 'integer' },
              retryDelay: { type: 'number' },
              timeout: { type: 'number' },
              isOAuth: { type: 'boolean' },
            },
          },
        },
      },
    },
  },
} as const;
