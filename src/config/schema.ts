/** The shape of config/default.json, as a type and as the JSON Schema that checks it at start. */
export interface Config {
  server: {
    port: number;
    host: string;
    publicUrl: string;
    maxBodyBytes: number;
    maxConnections: number;
    /** One client address (IPv6: its /64) holds at most this many; more are closed at once. */
    maxConnectionsPerAddress: number;
    headersTimeoutSeconds: number;
    /** At this share of maxConnections open the server is busy: headers then get busyHeadersTimeoutSeconds. */
    busyConnectionsShare: number;
    busyHeadersTimeoutSeconds: number;
    requestTimeoutSeconds: number;
  };
  metrics: { public: boolean };
  database: { url: string | null; schema: string | null; dataDir: string; poolMax: number; busyTimeoutMs: number };
  auth: { apiToken: string | null };
  security: { secretKey: string | null; previousSecretKeys: string[] };
  log: { level: string };
  node: { id: string | null };
  poller: {
    enabled: boolean;
    tickSeconds: number;
    minIntervalSeconds: number;
    maxIntervalMinutes: number;
    defaultIntervalMinutes: number;
    overlapSeconds: number;
    maxPages: number;
    concurrency: number;
    leaseSeconds: number;
    fullListingIntervalMinutes: number;
    backoffBaseSeconds: number;
    backoffMaxSeconds: number;
    maxObjectsPerInstance: number;
    jitterSeconds: number;
  };
  /**
   * `rateBudgetMarginSeconds` widens each rate-budget window, for the delay between pollgate's grant and the provider's count;
   * `tokenTimeoutSeconds` is how long an OAuth token endpoint may take to answer (tests make it short).
   */
  provider: { maxRetryAfterSeconds: number; maxResponseBytes: number; rateBudgetMarginSeconds: number; tokenTimeoutSeconds: number };
  /**
   * `maxItemsPerBody` bounds the items (per the connector's `itemsPath`) one request may carry;
   * `maxAttempts` is how many times a receipt's mapping is tried (an attempt cut short by a crash
   * counts) before it is parked as `failed`.
   */
  webhooks: {
    /** How often the webhook processor looks for receipts to map (stored receipts wake it at once; the tick is the safety net). */
    tickSeconds: number;
    maxBodyBytes: number;
    maxItemsPerBody: number;
    maxAttempts: number;
    rateLimitPerMinute: number;
    leaseSeconds: number;
    concurrency: number;
    mappingBackoffBaseSeconds: number;
    mappingBackoffMaxSeconds: number;
    deregisterBackoffBaseSeconds: number;
    deregisterBackoffMaxSeconds: number;
  };
  /** `maxTimeoutSeconds` cuts a request template's own timeout (5–10 s) shorter; tests make it short. */
  requests: { rateLimitPerMinute: number; maxTimeoutSeconds: number };
  delivery: {
    enabled: boolean;
    tickSeconds: number;
    timeoutSeconds: number;
    concurrency: number;
    /** Sends in flight to one callback origin, per node (a share of `concurrency`). */
    maxConcurrencyPerOrigin: number;
    /** Per origin and node: opens after `failureThreshold` timeouts or connection failures in a row. */
    circuitBreaker: { failureThreshold: number; cooldownSeconds: number; maxCooldownSeconds: number };
    leaseSeconds: number;
    maxEventsPerNotification: { polling: number; webhook: number };
    retrySchedule: number[];
    retryJitter: number;
    maxResponseBodyBytes: number;
    retentionDays: number;
    signingSecretOverlapHours: number;
  };
  schedules: {
    enabled: boolean;
    tickSeconds: number;
    minLeadSeconds: number;
    maxOneTimePerInstance: number;
    maxRecurringPerInstance: number;
    maxDataBytes: number;
    leaseSeconds: number;
  };
  retention: {
    enabled: boolean;
    intervalMinutes: number;
    eventsDays: number;
    webhookReceiptsDays: number;
    requestLogDays: number;
    /** Connect sessions are deleted this long after they expired. */
    connectSessionsDays: number;
  };
  network: { allowLoopback: boolean; allowPrivate: boolean };
  shutdown: { graceSeconds: number };
  /**
   * The hosted connect page: the origins (`https://app.example.com`) a session's success and error
   * URLs may be on, besides the gateway's own (`server.publicUrl`); `sessionMinutes` is a session's
   * default life.
   */
  connect: { allowedRedirectOrigins: string[]; sessionMinutes: number };
}

const int = (minimum = 0) => ({ type: 'integer', minimum });
const num = (minimum = 0) => ({ type: 'number', minimum });
const bool = { type: 'boolean' };
const section = (properties: Record<string, unknown>) => ({
  type: 'object',
  additionalProperties: false,
  required: Object.keys(properties),
  properties,
});

export const configSchema = section({
  server: section({
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    host: { type: 'string', minLength: 1 },
    publicUrl: { type: ['string', 'null'], pattern: '^https?://' },
    maxBodyBytes: int(1),
    maxConnections: int(1),
    maxConnectionsPerAddress: int(1),
    headersTimeoutSeconds: num(0.1),
    busyConnectionsShare: { type: 'number', minimum: 0, maximum: 1 },
    busyHeadersTimeoutSeconds: num(0.1),
    requestTimeoutSeconds: num(0.1),
  }),
  metrics: section({ public: bool }),
  database: section({
    url: { type: ['string', 'null'], pattern: '^(sqlite:|postgres://|postgresql://)' },
    schema: { type: ['string', 'null'], pattern: '^[a-z_][a-z0-9_]{0,62}$' },
    dataDir: { type: 'string', minLength: 1 },
    poolMax: int(1),
    busyTimeoutMs: int(0),
  }),
  auth: section({ apiToken: { type: ['string', 'null'], minLength: 16 } }),
  security: section({
    secretKey: { type: ['string', 'null'], minLength: 32 },
    previousSecretKeys: { type: 'array', items: { type: 'string', minLength: 32 }, maxItems: 20 },
  }),
  log: section({ level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] } }),
  node: section({ id: { type: ['string', 'null'], minLength: 1, maxLength: 64 } }),
  poller: section({
    enabled: bool,
    tickSeconds: num(0.01),
    minIntervalSeconds: num(0.001),
    maxIntervalMinutes: num(1),
    defaultIntervalMinutes: num(0.001),
    overlapSeconds: num(0),
    maxPages: int(1),
    concurrency: int(1),
    leaseSeconds: num(0.1),
    fullListingIntervalMinutes: num(0),
    backoffBaseSeconds: num(0),
    backoffMaxSeconds: num(0),
    maxObjectsPerInstance: int(1),
    jitterSeconds: num(0),
  }),
  provider: section({ maxRetryAfterSeconds: num(0), maxResponseBytes: int(1), rateBudgetMarginSeconds: num(0), tokenTimeoutSeconds: num(0.01) }),
  webhooks: section({
    tickSeconds: num(0.01),
    maxBodyBytes: int(1),
    maxItemsPerBody: int(1),
    maxAttempts: int(1),
    rateLimitPerMinute: int(1),
    leaseSeconds: num(0.1),
    concurrency: int(1),
    mappingBackoffBaseSeconds: num(0),
    mappingBackoffMaxSeconds: num(0),
    deregisterBackoffBaseSeconds: num(0),
    deregisterBackoffMaxSeconds: num(0),
  }),
  requests: section({ rateLimitPerMinute: int(1), maxTimeoutSeconds: num(0.01) }),
  delivery: section({
    enabled: bool,
    tickSeconds: num(0.01),
    timeoutSeconds: num(0.01),
    concurrency: int(1),
    maxConcurrencyPerOrigin: int(1),
    circuitBreaker: section({ failureThreshold: int(1), cooldownSeconds: num(0.01), maxCooldownSeconds: num(0.01) }),
    leaseSeconds: num(0.1),
    maxEventsPerNotification: section({ polling: int(1), webhook: int(1) }),
    retrySchedule: { type: 'array', items: num(0), maxItems: 50 },
    retryJitter: { type: 'number', minimum: 0, maximum: 1 },
    maxResponseBodyBytes: int(0),
    retentionDays: num(0),
    signingSecretOverlapHours: num(0),
  }),
  schedules: section({
    enabled: bool,
    tickSeconds: num(0.01),
    minLeadSeconds: num(0),
    maxOneTimePerInstance: int(0),
    maxRecurringPerInstance: int(0),
    maxDataBytes: int(1),
    leaseSeconds: num(0.1),
  }),
  retention: section({
    enabled: bool,
    intervalMinutes: num(0.01),
    eventsDays: num(0),
    webhookReceiptsDays: num(0),
    requestLogDays: num(0),
    connectSessionsDays: num(0),
  }),
  network: section({ allowLoopback: bool, allowPrivate: bool }),
  shutdown: section({ graceSeconds: num(0) }),
  connect: section({
    allowedRedirectOrigins: { type: 'array', items: { type: 'string', pattern: '^https?://[^/?#]+$' }, maxItems: 100 },
    sessionMinutes: num(1),
  }),
});
