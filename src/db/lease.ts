import type { Knex } from 'knex';
import { isPostgres } from './index.js';

/**
 * Claiming due work with a lease, the one mechanism behind polls, deliveries, schedule firings and
 * webhook mapping. A row is due when `dueColumn <= now` and nobody holds an unexpired lease on it;
 * claiming sets `lease_owner`/`lease_expires_at` in the same statement. On PostgreSQL the inner
 * SELECT uses FOR UPDATE SKIP LOCKED so nodes never wait on each other or claim the same row.
 * A node that dies simply lets its leases expire; another node then claims the row.
 */
export interface ClaimOptions {
  table: string;
  dueColumn: string;
  now: number;
  /** Rows with `dueColumn` at or before this are due; default `now` (poll-now passes +∞). */
  dueBy?: number;
  owner: string;
  leaseMs: number;
  limit: number;
  /** Extra conditions, e.g. `(q) => q.where('status', 'pending')`. Column names unqualified. */
  where?: (q: Knex.QueryBuilder) => void;
  orderBy?: Array<{ column: string; order?: 'asc' | 'desc' }>;
  idColumn?: string;
  /** More columns set by the claim, e.g. an attempt counted as it starts: `{attempts: db.raw('attempts + 1')}`. */
  set?: Record<string, unknown>;
  /** The columns answered (default all): a claim need not load large columns it reads later. */
  returning?: Array<string | Knex.Raw>;
}

export async function claimDue<Row = Record<string, unknown>>(db: Knex, o: ClaimOptions): Promise<Row[]> {
  const id = o.idColumn ?? 'id';
  const inner = db(o.table)
    .select(id)
    .where(o.dueColumn, '<=', o.dueBy ?? o.now)
    .where((q) => q.whereNull('lease_expires_at').orWhere('lease_expires_at', '<', o.now))
    .limit(o.limit);
  if (o.where) inner.where(o.where);
  for (const { column, order } of o.orderBy ?? [{ column: o.dueColumn, order: 'asc' as const }]) inner.orderBy(column, order ?? 'asc');
  if (isPostgres(db)) inner.forUpdate().skipLocked();
  return (await db(o.table)
    .whereIn(id, inner)
    .update({ ...o.set, lease_owner: o.owner, lease_expires_at: o.now + o.leaseMs })
    .returning(o.returning ?? '*')) as Row[];
}

/**
 * Extends the leases `owner` still holds on these rows; returns how many it renewed. Several rows
 * on PostgreSQL: a row locked by another statement — the work's outcome being written, which ends
 * the lease anyway — is skipped rather than waited for. Holding some rows while waiting for another
 * is how two multi-row updates that lock in different orders deadlock, and the statement aborted may
 * be that outcome. One row alone cannot deadlock (nothing is held while it waits), and waits.
 */
export async function renewLeases(db: Knex, table: string, ids: Array<string | number>, owner: string, until: number): Promise<number> {
  if (ids.length === 0) return 0;
  if (isPostgres(db) && ids.length > 1) {
    const held = db(table).select('id').whereIn('id', ids).where('lease_owner', owner).forUpdate().skipLocked();
    return db(table).whereIn('id', held).update({ lease_expires_at: until });
  }
  return db(table).whereIn('id', ids).where('lease_owner', owner).update({ lease_expires_at: until });
}

/** Gives back leases without finishing the work (graceful shutdown): the rows are due again at once. */
export async function releaseLeases(db: Knex, table: string, ids: Array<string | number>, owner: string): Promise<number> {
  if (ids.length === 0) return 0;
  return db(table).whereIn('id', ids).where('lease_owner', owner).update({ lease_owner: null, lease_expires_at: null });
}
