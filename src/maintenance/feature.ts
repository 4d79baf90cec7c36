import { everySeconds, type Ticker } from '../clock.js';
import type { Feature, GatewayContext } from '../context.js';
import type { RetentionResult, RetentionStore } from './store.js';

/**
 * The maintenance job: deletes what has outlived its retention setting (`retention.*`), a batch at
 * a time so no transaction grows large. Only finished work is ever deleted: events whose
 * notification is delivered (or that have none), receipts already mapped or given up on, request
 * log entries, and snapshots of object types an instance no longer polls. Undelivered and dead
 * notifications stay (they are replayable); delivered ones follow `delivery.retentionDays`.
 * Every node may run it: deleting twice is harmless.
 */
const DAY = 24 * 60 * 60 * 1000;

export function retentionFeature(ctx: GatewayContext, store: RetentionStore): Feature & { prune(): Promise<RetentionResult> } {
  let ticker: Ticker | undefined;
  let running: Promise<unknown> | undefined;
  const prune = (): Promise<RetentionResult> => {
    const settings = ctx.config.retention;
    const now = ctx.clock.now();
    const before = (days: number) => now - days * DAY;
    return store.deleteExpired({
      eventsBefore: before(settings.eventsDays),
      webhookReceiptsBefore: before(settings.webhookReceiptsDays),
      requestLogBefore: before(settings.requestLogDays),
    });
  };
  const tick = async () => {
    if (running) return;
    running = prune()
      .then((r) => ctx.log.info({ deleted: r }, 'retention applied'))
      .catch((err) => ctx.log.error({ err }, 'retention failed'))
      .finally(() => (running = undefined));
  };
  return {
    name: 'retention',
    prune,
    start: () => {
      if (ctx.config.retention.enabled) ticker ??= everySeconds(ctx.config.retention.intervalMinutes * 60, tick);
    },
    stop: async () => {
      ticker?.cancel();
      await running;
    },
  };
}

export type RetentionFeature = ReturnType<typeof retentionFeature>;
