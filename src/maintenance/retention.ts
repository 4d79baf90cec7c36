import type { Knex } from 'knex';
import { everySeconds, type Ticker } from '../clock.js';
import type { Feature, GatewayContext } from '../context.js';

/**
 * The maintenance job: deletes what has outlived its retention setting (`retention.*`), a batch at
 * a time so no transaction grows large. Only finished work is ever deleted: events whose
 * notification is delivered (or that have none), receipts already mapped or given up on, request
 * log entries, and snapshots of object types an instance no longer polls. Undelivered and dead
 * notifications stay (they are replayable); delivered ones follow `delivery.retentionDays`.
 * Every node may run it: deleting twice is harmless.
 */
const DAY = 24 * 60 * 60 * 1000;
const BATCH = 1000;

export interface RetentionResult {
  events: number;
  webhookReceipts: number;
  requestLog: number;
  snapshots: number;
}

/** Deletes the rows `select` picks (ids), a batch at a time; returns how many. */
async function deleteInBatches(db: Knex, table: string, select: (q: Knex.QueryBuilder) => Knex.QueryBuilder, idColumn = 'id'): Promise<number> {
  let total = 0;
  for (;;) {
    const ids = (await select(db(table).select(idColumn)).limit(BATCH)).map((r: Record<string, unknown>) => r[idColumn]);
    if (ids.length === 0) return total;
    total += await db(table).whereIn(idColumn, ids).delete();
    if (ids.length < BATCH) return total;
  }
}

export async function applyRetention(db: Knex, settings: GatewayContext['config']['retention'], now: number): Promise<RetentionResult> {
  const before = (days: number) => now - days * DAY;
  const events = await deleteInBatches(db, 'events', (q) =>
    q.where('created_at', '<', before(settings.eventsDays)).where((w) =>
      w.whereNull('notification_id').orWhereIn('notification_id', db('notifications').select('id').where('status', 'delivered')),
    ),
  );
  const webhookReceipts = await deleteInBatches(db, 'webhook_receipts', (q) =>
    q.where('received_at', '<', before(settings.webhookReceiptsDays)).whereIn('status', ['processed', 'failed', 'rejected']),
  );
  const requestLog = await deleteInBatches(db, 'request_log', (q) => q.where('at', '<', before(settings.requestLogDays)));
  // Snapshots of object types a polling instance dropped from its configuration (webhook-mode
  // instances keep theirs: they have no poll plan to compare with).
  const snapshots = await db('snapshots')
    .whereIn('instance_id', db('instances').select('id').where('vendor_type', 'polling'))
    .whereNotExists(db('poll_objects').select(db.raw('1')).whereRaw('poll_objects.instance_id = snapshots.instance_id').whereRaw('poll_objects.object_type = snapshots.object_type'))
    .delete();
  return { events, webhookReceipts, requestLog, snapshots };
}

export function retentionFeature(ctx: GatewayContext): Feature & { prune(): Promise<RetentionResult> } {
  let ticker: Ticker | undefined;
  let running: Promise<unknown> | undefined;
  const prune = () => applyRetention(ctx.db, ctx.config.retention, ctx.clock.now());
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
