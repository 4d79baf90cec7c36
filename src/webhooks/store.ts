import type { Knex } from 'knex';
import { bulkInsert } from '../db/bulk.js';
import { claimDue, releaseLeases } from '../db/lease.js';

/**
 * The store of webhook receipts (the ingress log) and queued deregistrations: the only code that
 * writes SQL for them. Receipts as the API reads them, as ingress inserts them (receipt-writer.ts
 * batches the inserts) and as the processor claims and settles them.
 */
export interface ReceiptRow {
  id: number;
  received_at: number;
  content_type: string | null;
  headers: string;
  body: string | null;
  delivery_id: string | null;
  verified: number | boolean;
  status: string;
  reason: string | null;
  events_count: number;
  unmapped: string | null;
  attempts: number;
  processed_at: number | null;
}

const LIST_COLUMNS = ['id', 'received_at', 'content_type', 'headers', 'delivery_id', 'verified', 'status', 'reason', 'events_count', 'attempts', 'processed_at'];

/** A receipt as ingress stores it. */
export interface NewReceiptRow {
  instance_id: number;
  received_at: number;
  content_type: string | null;
  headers: string;
  body: string;
  delivery_id: string | null;
  verified: boolean;
  status: 'pending';
  next_attempt_at: number;
}

/** A receipt as the processor claims it. */
export interface ClaimedReceipt {
  id: number;
  instance_id: number;
  received_at: number;
  content_type: string | null;
  headers: string;
  body: string;
  attempts: number;
}

export class ReceiptStore {
  constructor(private readonly db: Knex) {}

  /** Runs `fn` in one transaction; the receipt methods that take `trx` join it. */
  transaction<T>(fn: (trx: Knex) => Promise<T>): Promise<T> {
    return this.db.transaction(fn);
  }

  /** One multi-row INSERT; a row whose (instance, delivery id) is already stored is skipped. Returns the keys inserted. */
  async insertNew(rows: NewReceiptRow[]): Promise<Array<{ instance_id: number; delivery_id: string | null }>> {
    return (await bulkInsert(this.db, 'webhook_receipts', rows as unknown as Array<Record<string, unknown>>, {
      onConflict: { columns: ['instance_id', 'delivery_id'] },
      returning: ['instance_id', 'delivery_id'],
    })) as Array<{ instance_id: number; delivery_id: string | null }>;
  }

  /** Claims up to `limit` due pending receipts with a lease, oldest first. */
  claimDue(o: { now: number; owner: string; leaseMs: number; limit: number }): Promise<ClaimedReceipt[]> {
    return claimDue<ClaimedReceipt>(this.db, {
      table: 'webhook_receipts', dueColumn: 'next_attempt_at', now: o.now, owner: o.owner, leaseMs: o.leaseMs, limit: o.limit,
      where: (q) => q.where('status', 'pending'),
      orderBy: [{ column: 'id' }],
    });
  }

  async releaseLeases(ids: number[], owner: string): Promise<void> {
    await releaseLeases(this.db, 'webhook_receipts', ids, owner);
  }

  /**
   * Keeps the poller's snapshot of a record in step with what a webhook said, in the caller's
   * transaction: a deletion removes it; a record is stored by hash. False when the snapshot already
   * had this hash (the change was raised already, by a poll or an earlier webhook).
   */
  async reconcileSnapshot(trx: Knex, key: { instance_id: number; object_type: string; object_id: string }, change: { deleted: true } | { hash: string } | undefined, now: number): Promise<boolean> {
    if (!change) return true;
    if ('deleted' in change) {
      await trx('snapshots').where(key).delete();
      return true;
    }
    const known = (await trx('snapshots').where(key).first('hash')) as { hash: string } | undefined;
    if (known?.hash === change.hash) return false;
    await trx('snapshots').insert({ ...key, hash: change.hash, seen_at: now }).onConflict(['instance_id', 'object_type', 'object_id']).merge(['hash', 'seen_at']);
    return true;
  }

  /** A mapped receipt: processed (in the caller's transaction, with its events), lease given back. */
  async markProcessed(trx: Knex, id: number, o: { eventsCount: number; unmapped: string | null; now: number; attempts: number }): Promise<void> {
    await trx('webhook_receipts').where({ id }).update({
      status: 'processed', events_count: o.eventsCount, unmapped: o.unmapped, processed_at: o.now, lease_owner: null, lease_expires_at: null, attempts: o.attempts,
    });
  }

  /** A mapping that failed: retried at `nextAttemptAt`, or failed for good; lease given back. */
  async markFailed(id: number, o: { failed: boolean; reason: string; attempts: number; nextAttemptAt: number }): Promise<void> {
    await this.db('webhook_receipts').where({ id }).update({
      status: o.failed ? 'failed' : 'pending', reason: o.reason, attempts: o.attempts, next_attempt_at: o.nextAttemptAt, lease_owner: null, lease_expires_at: null,
    });
  }

  /** An instance's receipts newest first, without bodies (a page of large bodies would be huge). */
  async list(instanceId: number, before: number | undefined, limit: number): Promise<Omit<ReceiptRow, 'body' | 'unmapped'>[]> {
    const q = this.db('webhook_receipts').where({ instance_id: instanceId }).orderBy('id', 'desc').limit(limit).select(LIST_COLUMNS);
    if (before) q.where('id', '<', before);
    return (await q) as ReceiptRow[];
  }

  async get(instanceId: number, id: number): Promise<ReceiptRow | undefined> {
    return (await this.db('webhook_receipts').where({ instance_id: instanceId, id }).first()) as ReceiptRow | undefined;
  }
}

/** A provider webhook whose deregistration failed, queued for retries (its configuration encrypted). */
export interface DeregistrationRow {
  id: number;
  instance_id: number;
  element_key: string;
  configuration: string;
  registration: string;
  webhook_id: string;
  attempts: number;
}

export class DeregistrationStore {
  constructor(private readonly db: Knex) {}

  async queue(row: Omit<DeregistrationRow, 'id'> & { next_attempt_at: number; last_error: string; created_at: number }): Promise<void> {
    await this.db('webhook_deregistrations').insert(row);
  }

  /** Claims up to ten due deregistrations with a minute's lease. */
  claimDue(now: number, owner: string): Promise<DeregistrationRow[]> {
    return claimDue<DeregistrationRow>(this.db, { table: 'webhook_deregistrations', dueColumn: 'next_attempt_at', now, owner, leaseMs: 60_000, limit: 10 });
  }

  async remove(id: number): Promise<void> {
    await this.db('webhook_deregistrations').where({ id }).delete();
  }

  /** Another attempt later; the lease is given back. */
  async retryLater(id: number, o: { attempts: number; lastError: string; nextAttemptAt: number }): Promise<void> {
    await this.db('webhook_deregistrations').where({ id }).update({ attempts: o.attempts, last_error: o.lastError, next_attempt_at: o.nextAttemptAt, lease_owner: null, lease_expires_at: null });
  }
}
