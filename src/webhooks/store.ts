import type { Knex } from 'knex';
import { bulkInsert, deleteInBatches } from '../db/bulk.js';
import { claimDue } from '../db/lease.js';
import { groupBy } from '../lib/group-by.js';

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
  next_attempt_at: number;
  processed_at: number | null;
}

/** What a receipt's `status` can be: mapped, waiting for (another) attempt, or parked after `webhooks.maxAttempts`. */
export const RECEIPT_STATES = ['pending', 'processed', 'failed'] as const;

const LIST_COLUMNS = [
  'id',
  'received_at',
  'content_type',
  'headers',
  'delivery_id',
  'verified',
  'status',
  'reason',
  'events_count',
  'attempts',
  'next_attempt_at',
  'processed_at',
];

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

/** A receipt as the processor claims it, `attempts` counting this one. */
export interface ClaimedReceipt {
  id: number;
  instance_id: number;
  received_at: number;
  content_type: string | null;
  headers: string;
  /** The body when it is at most INLINE_BODY characters; a larger one is null here and read with `bodies`, a few at a time. */
  body: string | null;
  attempts: number;
  /** The last attempt's error, if it ended in one. */
  reason: string | null;
}

/** Bodies up to this size come with the claim (one statement for the usual small webhook); a claim of 32 holds at most 2 MiB of them. */
const INLINE_BODY = 65_536;

export class ReceiptStore {
  constructor(private readonly db: Knex) {}

  /** Retention: receipts received before `before` that are mapped or given up on. */
  prune(before: number): Promise<number> {
    return deleteInBatches(this.db, 'webhook_receipts', (q) => q.where('received_at', '<', before).whereIn('status', ['processed', 'failed', 'rejected']));
  }

  /** One multi-row INSERT; a row whose (instance, delivery id) is already stored is skipped. Returns the keys inserted. */
  async insertNew(rows: NewReceiptRow[]): Promise<Array<{ instance_id: number; delivery_id: string | null }>> {
    return (await bulkInsert(this.db, 'webhook_receipts', rows as unknown as Array<Record<string, unknown>>, {
      onConflict: { columns: ['instance_id', 'delivery_id'] },
      returning: ['instance_id', 'delivery_id'],
    })) as Array<{ instance_id: number; delivery_id: string | null }>;
  }

  /**
   * Claims up to `limit` due pending receipts with a lease, oldest first: never tried (`retried`
   * false) or tried before (true). The claim counts the attempt, in the same statement, before any
   * mapping starts: a process that dies while mapping has used one, so a body that crashes it
   * cannot do so forever.
   */
  claimDue(o: { now: number; owner: string; leaseMs: number; limit: number; retried: boolean }): Promise<ClaimedReceipt[]> {
    return claimDue<ClaimedReceipt>(this.db, {
      table: 'webhook_receipts',
      dueColumn: 'next_attempt_at',
      now: o.now,
      owner: o.owner,
      leaseMs: o.leaseMs,
      limit: o.limit,
      where: (q) => q.where('status', 'pending').where('attempts', o.retried ? '>' : '=', 0),
      orderBy: [{ column: 'id' }],
      set: { attempts: this.db.raw('attempts + 1') },
      returning: [
        'id',
        'instance_id',
        'received_at',
        'content_type',
        'headers',
        'attempts',
        'reason',
        this.db.raw('case when length(body) <= ? then body end as body', [INLINE_BODY]),
      ],
    });
  }

  /** The bodies of claimed receipts (those too large to come with the claim), by id. */
  async bodies(ids: number[]): Promise<Map<number, string>> {
    const rows = (await this.db('webhook_receipts').whereIn('id', ids).select('id', 'body')) as Array<{ id: number; body: string | null }>;
    return new Map(rows.map((r) => [Number(r.id), r.body ?? '']));
  }

  /** Claims given back unmapped (the processor stops): due again at once, their attempt not counted. */
  async releaseClaims(ids: number[], owner: string): Promise<void> {
    for (let i = 0; i < ids.length; i += 500) {
      await this.db('webhook_receipts')
        .whereIn('id', ids.slice(i, i + 500))
        .where('lease_owner', owner)
        .update({ lease_owner: null, lease_expires_at: null, attempts: this.db.raw('attempts - 1') });
    }
  }

  /** Mapped receipts: processed (in the unit of work of their events), leases given back; one UPDATE per distinct outcome. */
  async markProcessed(receipts: Array<{ id: number; eventsCount: number; unmapped: string | null }>, now: number): Promise<void> {
    for (const same of groupBy(receipts, (r) => JSON.stringify([r.eventsCount, r.unmapped])).values()) {
      const { eventsCount, unmapped } = same[0];
      for (let i = 0; i < same.length; i += 500) {
        await this.db('webhook_receipts')
          .whereIn(
            'id',
            same.slice(i, i + 500).map((r) => r.id),
          )
          .update({
            status: 'processed',
            events_count: eventsCount,
            unmapped,
            reason: null,
            processed_at: now,
            lease_owner: null,
            lease_expires_at: null,
          });
      }
    }
  }

  /**
   * A mapping that failed: retried at `nextAttemptAt`, or parked as `failed` until an operator
   * retries it; lease given back. `attempts` corrects the claim's count (an attempt that never
   * began is not shown).
   */
  async markFailed(id: number, o: { failed: boolean; reason: string; nextAttemptAt: number; attempts?: number }): Promise<void> {
    await this.db('webhook_receipts')
      .where({ id })
      .update({
        status: o.failed ? 'failed' : 'pending',
        reason: o.reason,
        next_attempt_at: o.nextAttemptAt,
        lease_owner: null,
        lease_expires_at: null,
        ...(o.attempts === undefined ? {} : { attempts: o.attempts }),
      });
  }

  /** An operator's retry: a failed receipt back to pending with its attempts anew, due now. False when it is not failed. */
  async retry(instanceId: number, id: number, now: number): Promise<boolean> {
    const changed = await this.db('webhook_receipts')
      .where({ instance_id: instanceId, id, status: 'failed' })
      .update({ status: 'pending', attempts: 0, next_attempt_at: now, lease_owner: null, lease_expires_at: null });
    return changed > 0;
  }

  /** How many receipts are parked as failed, all instances (the metrics gauge). */
  async countFailed(): Promise<number> {
    const [row] = await this.db('webhook_receipts').where('status', 'failed').count<{ n: number }[]>({ n: '*' });
    return Number(row.n);
  }

  /** An instance's receipts newest first, optionally of one status, without bodies (a page of large bodies would be huge). */
  async list(instanceId: number, f: { status?: string; before?: number; limit: number }): Promise<Omit<ReceiptRow, 'body' | 'unmapped'>[]> {
    const q = this.db('webhook_receipts').where({ instance_id: instanceId }).orderBy('id', 'desc').limit(f.limit).select(LIST_COLUMNS);
    if (f.before) q.where('id', '<', f.before);
    if (f.status !== undefined) q.where('status', f.status);
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
    await this.db('webhook_deregistrations')
      .where({ id })
      .update({ attempts: o.attempts, last_error: o.lastError, next_attempt_at: o.nextAttemptAt, lease_owner: null, lease_expires_at: null });
  }
}
