import type { Knex } from 'knex';

/**
 * The retention job's deletes, across the tables it prunes (events, webhook receipts, the request
 * log, snapshots), a batch at a time so no transaction grows large. Only finished work is deleted.
 */
const BATCH = 1000;

export interface RetentionResult {
  events: number;
  webhookReceipts: number;
  requestLog: number;
  snapshots: number;
}

export interface RetentionCutoffs {
  /** Events made before this whose notification is delivered (or that have none). */
  eventsBefore: number;
  /** Receipts received before this that are mapped or given up on. */
  webhookReceiptsBefore: number;
  requestLogBefore: number;
}

export class RetentionStore {
  constructor(private readonly db: Knex) {}

  /** Deletes what the cutoffs expire, and snapshots of object types a polling instance no longer polls. */
  async deleteExpired(c: RetentionCutoffs): Promise<RetentionResult> {
    const db = this.db;
    const events = await this.deleteInBatches('events', (q) =>
      q
        .where('created_at', '<', c.eventsBefore)
        .where((w) => w.whereNull('notification_id').orWhereIn('notification_id', db('notifications').select('id').where('status', 'delivered'))),
    );
    const webhookReceipts = await this.deleteInBatches('webhook_receipts', (q) =>
      q.where('received_at', '<', c.webhookReceiptsBefore).whereIn('status', ['processed', 'failed', 'rejected']),
    );
    const requestLog = await this.deleteInBatches('request_log', (q) => q.where('at', '<', c.requestLogBefore));
    // Snapshots of object types a polling instance dropped from its configuration (webhook-mode
    // instances keep theirs: they have no poll plan to compare with).
    const snapshots = await db('snapshots')
      .whereIn('instance_id', db('instances').select('id').where('vendor_type', 'polling'))
      .whereNotExists(
        db('poll_objects')
          .select(db.raw('1'))
          .whereRaw('poll_objects.instance_id = snapshots.instance_id')
          .whereRaw('poll_objects.object_type = snapshots.object_type'),
      )
      .delete();
    return { events, webhookReceipts, requestLog, snapshots };
  }

  /** Deletes the rows `select` picks (ids), a batch at a time; returns how many. */
  private async deleteInBatches(table: string, select: (q: Knex.QueryBuilder) => Knex.QueryBuilder, idColumn = 'id'): Promise<number> {
    let total = 0;
    for (;;) {
      const ids = (await select(this.db(table).select(idColumn)).limit(BATCH)).map((r: Record<string, unknown>) => r[idColumn]);
      if (ids.length === 0) return total;
      total += await this.db(table).whereIn(idColumn, ids).delete();
      if (ids.length < BATCH) return total;
    }
  }
}
