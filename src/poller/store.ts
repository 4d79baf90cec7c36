import type { Knex } from 'knex';
import { bulkUpdate } from '../db/bulk.js';
import { claimDue, releaseLeases, renewLeases } from '../db/lease.js';

/**
 * The store of poll_objects (each object type's schedule and state): the API's status reads, the
 * poller's claims, leases and outcomes, listing generations, and the poll plan an instance write
 * keeps in step. The snapshots the poll diffs against are `snapshot-store.ts`'s.
 */

/** Poll state as the API reads it: one row per object type of an instance. */
export interface StatusRow {
  object_type: string;
  interval_ms: number;
  next_poll_at: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  watermark: number;
  last_poll_at: number | null;
  last_success_at: number | null;
  last_duration_ms: number | null;
  last_fetched: number | null;
  last_created: number | null;
  last_updated: number | null;
  last_deleted: number | null;
  last_error: string | null;
  last_error_at: number | null;
  last_node: string | null;
  failures: number;
}

type PlannedObject = { id: number; object_type: string; interval_ms: number | string; last_poll_at: number | null };

/** How a claim is leased: to whom, from when, for how long, and how many rows at most. */
export interface LeaseTerms {
  now: number;
  owner: string;
  leaseMs: number;
  limit: number;
}

export class PollStateStore {
  /** `db` is the connection, or the transaction of a write this store joins (an instance's, in service.ts). */
  constructor(private readonly db: Knex) {}

  /** An instance's object types with their last poll, by name. */
  async objectsOf(instanceId: number): Promise<StatusRow[]> {
    return (await this.db('poll_objects').where({ instance_id: instanceId }).orderBy('object_type')) as StatusRow[];
  }

  /** Gives back claims of `owner` (the loop's, when it stops or does not run them); due again at once. */
  releaseLeases(ids: Array<number | string>, owner: string): Promise<number> {
    return releaseLeases(this.db, 'poll_objects', ids, owner);
  }

  /** Claims objects of instances whose events are enabled, due by `dueBy`, soonest first. */
  claimDue<Row>(o: LeaseTerms & { dueBy: number }): Promise<Row[]> {
    return claimDue<Row>(this.db, {
      table: 'poll_objects',
      dueColumn: 'next_poll_at',
      ...o,
      // EXISTS, not instance_id IN (…): SQLite then walks the next_poll_at index and stops at the
      // limit; with IN it read every enabled instance's objects and sorted them (75 ms at 30,000).
      where: (q) =>
        q.whereExists(
          this.db('instances').select(this.db.raw('1')).whereRaw('instances.id = poll_objects.instance_id').where('instances.events_enabled', true),
        ),
    });
  }

  /** Claims an instance's objects (or just `objectType`) whether due or not: a poll on request. */
  claimOfInstance<Row>(instanceId: number, objectType: string | undefined, o: LeaseTerms): Promise<Row[]> {
    return claimDue<Row>(this.db, {
      table: 'poll_objects',
      dueColumn: 'next_poll_at',
      dueBy: Number.MAX_SAFE_INTEGER,
      ...o,
      where: (q) => (objectType === undefined ? q.where('instance_id', instanceId) : q.where({ instance_id: instanceId, object_type: objectType })),
    });
  }

  /** Extends the leases `owner` still holds on these objects. */
  async renewLeases(ids: Array<number | string>, owner: string, until: number): Promise<void> {
    await renewLeases(this.db, 'poll_objects', ids, owner, until);
  }

  /** Changes a poll object's columns (a poll's outcomes go through updateMany). */
  async update(id: number, patch: Record<string, unknown>): Promise<void> {
    await this.db('poll_objects').where({ id }).update(patch);
  }

  /**
   * Many polls' outcomes in a statement per set of columns: `patches` are `{id, column: value, …}`;
   * with `leaseOwner`, only rows that node still holds are written. Returns the ids written.
   */
  async updateMany(patches: Array<Record<string, unknown>>, leaseOwner?: string): Promise<Set<number>> {
    const written = await bulkUpdate(this.db, 'poll_objects', 'id', patches, leaseOwner === undefined ? {} : { lease_owner: leaseOwner });
    return new Set(written.map(Number));
  }

  /** How many object types an instance polls (or whether it polls `objectType`: 0 or 1). */
  async count(instanceId: number, objectType?: string): Promise<number> {
    const [row] = await this.db('poll_objects')
      .where({ instance_id: instanceId, ...(objectType === undefined ? {} : { object_type: objectType }) })
      .count<{ n: number }[]>({ n: '*' });
    return Number(row.n);
  }

  /** Takes the next generation number for a full listing of this poll object. */
  async startListing(pollObjectId: number, lastGeneration: number): Promise<number> {
    const generation = lastGeneration + 1;
    await this.db('poll_objects').where({ id: pollObjectId }).update({ listing_generation: generation });
    return generation;
  }

  /** An instance's poll objects, as planning needs them. */
  async planned(instanceId: number): Promise<PlannedObject[]> {
    return (await this.db('poll_objects').where({ instance_id: instanceId }).select('id', 'object_type', 'interval_ms', 'last_poll_at')) as PlannedObject[];
  }

  async delete(ids: number[]): Promise<void> {
    if (ids.length) await this.db('poll_objects').whereIn('id', ids).delete();
  }

  async insert(row: Record<string, unknown>): Promise<void> {
    await this.db('poll_objects').insert(row);
  }

  /** Resuming an instance: its overdue polls are due now, not at their old time. */
  async pollOverdueNow(instanceId: number, now: number): Promise<void> {
    await this.db('poll_objects').where({ instance_id: instanceId }).where('next_poll_at', '<', now).update({ next_poll_at: now });
  }

  /**
   * A thin notification: these objects of the instance are due now (not later than they were), and
   * the request is noted, so that a poll running meanwhile polls again after it (pollAgainIfAsked).
   */
  async pollObjectsNow(instanceId: number, objectTypes: string[], now: number): Promise<number> {
    return this.db('poll_objects')
      .where({ instance_id: instanceId })
      .whereIn('object_type', objectTypes)
      .update({ poll_requested_at: now, next_poll_at: this.db.raw('CASE WHEN next_poll_at > ? THEN ? ELSE next_poll_at END', [now, now]) });
  }

  /** After a poll that started at `startedAt`: a poll asked for after its start (pollObjectsNow) is due at `at`. */
  async pollAgainIfAsked(id: number, startedAt: number, at: number): Promise<boolean> {
    return (await this.db('poll_objects').where({ id }).where('poll_requested_at', '>', startedAt).update({ next_poll_at: at })) > 0;
  }

  /** A repaired instance (a reconnect): every object is polled now, a reconciliation of the gap. */
  async pollAllNow(instanceId: number, now: number): Promise<void> {
    await this.db('poll_objects').where({ instance_id: instanceId }).update({ next_poll_at: now });
  }
}
