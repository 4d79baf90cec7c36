import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's own metrics (CPU, memory, event-loop delay): made once per process and shown by
 * every gateway in it, since they describe the process, not a gateway.
 */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'pollgate_process_' });
  }
  return processRegistry;
}

/**
 * Prometheus metrics of one gateway. A registry per gateway (not prom-client's global one) so
 * several gateways in one test process do not collide; `registry` adds the process's metrics.
 */
export function createMetrics() {
  const registry = new Registry();
  /** Read at each scrape; set by the feature that owns the figure (the database is its source). */
  const sources: { failedReceipts?: () => Promise<number> } = {};
  const metrics = {
    sources,
    polls: new Counter({ name: 'pollgate_polls_total', help: 'Polls of one object type, by result', labelNames: ['result'], registers: [registry] }),
    pollLag: new Histogram({
      name: 'pollgate_poll_lag_seconds',
      help: 'How late a poll started after it was due',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15, 60],
      registers: [registry],
    }),
    pollDuration: new Histogram({
      name: 'pollgate_poll_duration_seconds',
      help: 'Duration of one poll',
      buckets: [0.05, 0.1, 0.5, 1, 5, 15, 60],
      registers: [registry],
    }),
    events: new Counter({ name: 'pollgate_events_total', help: 'Normalized events stored, by source', labelNames: ['source'], registers: [registry] }),
    deliveries: new Counter({
      name: 'pollgate_delivery_attempts_total',
      help: 'Callback attempts, by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    // Per callback origin, only while it has sends in flight or a breaker that is not closed (the
    // label set is removed after), so the series stay few however many receivers there are.
    deliveryInFlight: new Gauge({
      name: 'pollgate_delivery_in_flight',
      help: 'Callback sends in flight (or claimed and about to start) on this node, by callback origin',
      labelNames: ['origin'],
      registers: [registry],
    }),
    deliveryCircuitOpen: new Gauge({
      name: 'pollgate_delivery_circuit_open',
      help: "1 while this node's circuit breaker of a callback origin is open or half-open, 0 once closed",
      labelNames: ['origin'],
      registers: [registry],
    }),
    deliveryCircuitOpens: new Counter({
      name: 'pollgate_delivery_circuit_opens_total',
      help: 'Times a callback origin circuit breaker opened (a failed half-open probe opens it again)',
      registers: [registry],
    }),
    authFailures: new Counter({
      name: 'pollgate_auth_failures_total',
      help: 'Provider grants refused (auth state failed), by connector',
      labelNames: ['element'],
      registers: [registry],
    }),
    errors: new Counter({
      name: 'pollgate_errors_total',
      help: 'Errors the API and the background loops caught instead of completing a request or a piece of work, by component and kind (database_unavailable: may pass; unexpected: logged as an error)',
      labelNames: ['component', 'kind'],
      registers: [registry],
    }),
    webhooks: new Counter({
      name: 'pollgate_webhooks_received_total',
      help: 'Webhook requests received, by answer status',
      labelNames: ['status'],
      registers: [registry],
    }),
    connectionsClosed: new Counter({
      name: 'pollgate_http_connections_closed_total',
      help: 'Client connections refused or cut, by reason: per_address, max_connections, evicted (for a newer one at max_connections), timeout, busy_timeout',
      labelNames: ['reason'],
      registers: [registry],
    }),
    httpConnections: new Gauge({ name: 'pollgate_http_connections', help: 'Client connections open', registers: [registry] }),
    httpBusy: new Gauge({
      name: 'pollgate_http_busy',
      help: '1 while so many connections are open that request headers get the shorter busy timeout',
      registers: [registry],
    }),
    receiptsParked: new Counter({
      name: 'pollgate_webhook_receipts_failed_total',
      help: 'Webhook receipts parked as failed after webhooks.maxAttempts mapping attempts',
      registers: [registry],
    }),
    receiptsFailed: new Gauge({
      name: 'pollgate_webhook_receipts_failed',
      help: 'Webhook receipts parked as failed now, all instances (the same figure on every node)',
      registers: [registry],
      async collect() {
        // A scrape while the database is away keeps the last figure rather than failing whole.
        const count = await sources.failedReceipts?.().catch(() => undefined);
        if (count !== undefined) this.set(count);
      },
    }),
  };
  return { registry: Registry.merge([processMetrics(), registry]), ...metrics };
}

export type Metrics = ReturnType<typeof createMetrics>;
