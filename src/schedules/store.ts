import type { Knex } from 'knex';
import { isPostgres } from '../db/index.js';
import { claimDue } from '../db/lease.js';
import type { ScheduleRow } from './model.js';

const LOCK_CLASS = 0x5c4ed; // pg_advisory_xact_lock(class, instanceId): "schedules of instance n"

/** The store of schedules: the API's reads and writes, the scheduler's claims and firings. */
export class ScheduleStore {
  constructor(private readonly db: Knex) {}

  /**
   * Runs `fn` with a store inside a transaction that no other change to the same instance's
   * schedules interleaves with, so two requests cannot both pass a name or limit check. SQLite has
   * one writer and one connection; PostgreSQL takes a transaction-scoped advisory lock per instance.
   */
  serialized<T>(instanceId: number, fn: (store: ScheduleStore) => Promise<T>): Promise<T> {
    return this.db.transaction(async (trx) => {
      if (isPostgres(this.db)) await trx.raw('SELECT pg_advisory_xact_lock(?, ?)', [LOCK_CLASS, instanceId]);
      return fn(new ScheduleStore(trx));
    });
  }

  /** Claims up to `limit` due schedules with a lease. */
  claimDue(o: { now: number; owner: string; leaseMs: number; limit: number }): Promise<ScheduleRow[]> {
    return claimDue<ScheduleRow>(this.db, {
      table: 'schedules',
      dueColumn: 'next_fire_at',
      now: o.now,
      owner: o.owner,
      leaseMs: o.leaseMs,
      limit: o.limit,
      where: (q) => q.whereNotNull('next_fire_at'),
    });
  }

  /**
   * Advances a fired schedule to `next` (null: done), only while `owner` still holds the lease;
   * false (and nothing done) when it does not. The scheduler queues its notification in the same
   * unit of work.
   */
  async advanceFired(row: ScheduleRow, o: { owner: string; now: number; next: number | null }): Promise<boolean> {
    const updated = await this.db('schedules')
      .where({ id: row.id, lease_owner: o.owner })
      .update({ next_fire_at: o.next, fire_count: row.fire_count + 1, last_fired_at: o.now, updated_at: o.now, lease_owner: null, lease_expires_at: null });
    return updated > 0;
  }

  async find(instanceId: number, name: string): Promise<ScheduleRow | undefined> {
    return (await this.db('schedules').where({ instance_id: instanceId, name }).first()) as ScheduleRow | undefined;
  }

  /** An instance's schedules newest first. */
  async list(instanceId: number, before: number | undefined, limit: number): Promise<ScheduleRow[]> {
    const q = this.db('schedules').where({ instance_id: instanceId }).orderBy('id', 'desc').limit(limit);
    if (before) q.where('id', '<', before);
    return (await q) as ScheduleRow[];
  }

  /** Active (not yet fired) schedules of one kind, leaving out `exceptId`. */
  async countActive(instanceId: number, recurring: boolean, exceptId?: number): Promise<number> {
    const count = this.db('schedules').where({ instance_id: instanceId }).whereNotNull('next_fire_at');
    if (exceptId) count.whereNot('id', exceptId);
    if (recurring) count.whereNotNull('repeat_unit');
    else count.whereNull('repeat_unit');
    const [{ n }] = await count.count<{ n: number }[]>({ n: '*' });
    return Number(n);
  }

  async insert(row: Omit<ScheduleRow, 'id' | 'fire_count' | 'last_fired_at'>): Promise<void> {
    await this.db('schedules').insert(row);
  }

  async update(id: number, patch: Partial<ScheduleRow> & { lease_owner?: null; lease_expires_at?: null }): Promise<void> {
    await this.db('schedules').where({ id }).update(patch);
  }

  /** How many were removed (0 or 1). */
  remove(instanceId: number, name: string): Promise<number> {
    return this.db('schedules').where({ instance_id: instanceId, name }).delete();
  }
}
