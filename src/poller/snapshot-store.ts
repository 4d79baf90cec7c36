import type { Knex } from 'knex';
import { bulkInsert } from '../db/bulk.js';
import { groupBy } from '../lib/group-by.js';
import { isPostgres } from '../db/index.js';
import { holdInstance } from '../db/instance-guard.js';

/**
 * The store of snapshots (the last hash seen of each record of an object type), which the poll
 * diffs against and the sweep marks and deletes from. A poll's changes — events and snapshot rows
 * — are written in one unit of work (`stores.transaction`), with the event store bound to it.
 */

/** One object type of one instance: the key of its snapshot rows. */
export interface SnapshotKey {
  instanceId: number;
  objectType: string;
}

/** A snapshot row to write: the record's id, its hash, and whether the provider reported it deleted. */
export interface SnapshotWrite {
  id: string;
  hash: string;
  deleted: boolean;
}

/** One record's snapshot row (what a webhook reconciles). */
export type RecordKey = { instance_id: number; object_type: string; object_id: string };
/** What a webhook said of a record: deleted, or its new content's hash. */
export type SnapshotChange = { deleted: true } | { hash: string };

/** A listing that stored more new rows than this refreshes PostgreSQL's statistics of the table. */
const ANALYZE_AFTER_ROWS = 50_000;

export class SnapshotStore {
  constructor(private readonly db: Knex) {}

  /**
   * Retention: snapshots of object types a polling instance dropped from its configuration
   * (webhook-mode instances keep theirs: they have no poll plan to compare with).
   */
  async prune(): Promise<number> {
    const db = this.db;
    return db('snapshots')
      .whereIn('instance_id', db('instances').select('id').where('vendor_type', 'polling'))
      .whereNotExists(
        db('poll_objects')
          .select(db.raw('1'))
          .whereRaw('poll_objects.instance_id = snapshots.instance_id')
          .whereRaw('poll_objects.object_type = snapshots.object_type'),
      )
      .delete();
  }

  /**
   * Keeps the poller's snapshots in step with what webhooks said, in the unit of work this store is
   * bound to and in the changes' order: a deletion removes the record's snapshot; a record is stored by hash.
   * Answers, per change, whether it is new — false when the snapshot already had this hash (raised
   * already, by a poll or an earlier webhook, also one earlier in the batch). A few statements for
   * the whole batch: one read of the known hashes, one upsert, one delete per deleted record.
   */
  async reconcile(changes: Array<{ key: RecordKey; change: SnapshotChange | undefined }>, now: number): Promise<boolean[]> {
    const id = (k: RecordKey) => `${k.instance_id}\u0000${k.object_type}\u0000${k.object_id}`;
    const state = new Map<string, string | null>();
    const hashed = changes.filter((c) => c.change && 'hash' in c.change).map((c) => c.key);
    for (const [instanceId, keys] of groupBy(hashed, (k) => k.instance_id)) {
      for (let i = 0; i < keys.length; i += 400) {
        const pairs = keys.slice(i, i + 400).map((k) => [k.object_type, k.object_id]);
        const rows = (await this.db('snapshots')
          .where('instance_id', instanceId)
          .whereIn(['object_type', 'object_id'], pairs)
          .select('object_type', 'object_id', 'hash')) as Array<{ object_type: string; object_id: string; hash: string }>;
        for (const r of rows) state.set(id({ instance_id: instanceId, object_type: r.object_type, object_id: r.object_id }), r.hash);
      }
    }
    const written = new Map<string, { key: RecordKey; hash: string | null }>();
    const fresh = changes.map(({ key, change }) => {
      if (!change) return true;
      const k = id(key);
      const hash = 'deleted' in change ? null : change.hash;
      if (hash !== null && state.get(k) === hash) return false;
      state.set(k, hash);
      written.set(k, { key, hash });
      return true;
    });
    const upserts = [...written.values()].filter((w) => w.hash !== null).map((w) => ({ ...w.key, hash: w.hash, seen_at: now }));
    for (const instanceId of new Set(upserts.map((u) => u.instance_id))) await holdInstance(this.db, instanceId);
    await bulkInsert(this.db, 'snapshots', upserts, { onConflict: { columns: ['instance_id', 'object_type', 'object_id'], merge: ['hash', 'seen_at'] } });
    for (const w of written.values()) if (w.hash === null) await this.db('snapshots').where(w.key).delete();
    return fresh;
  }

  /** Every snapshot of a deleted instance. */
  async deleteOfInstance(instanceId: number): Promise<void> {
    await this.db('snapshots').where({ instance_id: instanceId }).delete();
  }

  /** The stored hashes of these ids: one lookup by primary key per batch, the ids as one array parameter. */
  async load(key: SnapshotKey, ids: string[]): Promise<Map<string, string>> {
    const known = new Map<string, string>();
    if (ids.length === 0) return known;
    const pg = isPostgres(this.db);
    // PostgreSQL: a primary-key probe per id. With `object_id = any(…)` the planner filters every
    // row of the object (or scans the table) once an account's rows are most of it — a first poll's
    // lookups then grow with the rows it already stored; `limit 1` keeps the lateral from being
    // turned into that join.
    const sql = pg
      ? 'select s.object_id, s.hash from unnest(?::text[]) as k(id) cross join lateral (select object_id, hash from snapshots where instance_id = ? and object_type = ? and object_id = k.id limit 1) as s'
      : 'select object_id, hash from snapshots where instance_id = ? and object_type = ? and object_id in (select value from json_each(?))';
    const bindings = pg ? [ids as unknown as Knex.Value, key.instanceId, key.objectType] : [key.instanceId, key.objectType, JSON.stringify(ids)];
    const result = await this.db.raw(sql, bindings);
    for (const row of (pg ? result.rows : result) as Array<{ object_id: string; hash: string }>) known.set(row.object_id, row.hash);
    return known;
  }

  /** Writes (inserts or overwrites) the snapshot rows of changed records, marked with the listing `generation`. */
  async upsert(key: SnapshotKey, changed: SnapshotWrite[], now: number, generation: number): Promise<void> {
    if (changed.length === 0) return;
    await holdInstance(this.db, key.instanceId);
    const rows = changed.map((r) => ({
      instance_id: key.instanceId,
      object_type: key.objectType,
      object_id: r.id,
      hash: r.hash,
      seen_at: now,
      listed_generation: generation,
      reported_deleted: r.deleted,
    }));
    await bulkInsert(this.db, 'snapshots', rows, {
      onConflict: { columns: ['instance_id', 'object_type', 'object_id'], merge: ['hash', 'seen_at', 'listed_generation', 'reported_deleted'] },
    });
  }

  /** Marks snapshot rows met again, unchanged, by the listing of `generation`. */
  async markListed(key: SnapshotKey, ids: string[], generation: number): Promise<void> {
    for (let i = 0; i < ids.length; i += 500) {
      await this.db('snapshots')
        .where({ instance_id: key.instanceId, object_type: key.objectType })
        .whereIn('object_id', ids.slice(i, i + 500))
        .update({ listed_generation: generation });
    }
  }

  /** Rows no listing has met yet (written by webhooks) count as met by the listing of `generation`. */
  async adoptUnlisted(key: SnapshotKey, generation: number): Promise<void> {
    await this.db('snapshots')
      .where({ instance_id: key.instanceId, object_type: key.objectType })
      .whereNull('listed_generation')
      .update({ listed_generation: generation });
  }

  /** Up to `limit` ids after `after` (keyset over the primary key) last met before the listing `before`. */
  async unlistedAfter(key: SnapshotKey, before: number, after: string, limit: number): Promise<string[]> {
    const rows = (await this.db('snapshots')
      .where({ instance_id: key.instanceId, object_type: key.objectType })
      .where('object_id', '>', after)
      .where('listed_generation', '<', before)
      .orderBy('object_id')
      .limit(limit)
      .select('object_id')) as Array<{ object_id: string }>;
    return rows.map((r) => r.object_id);
  }

  /**
   * Deletes those of `ids` still last met before the listing `before`, locked first on PostgreSQL:
   * another node's sweep or a webhook's DELETED may have removed some since they were read (SQLite:
   * the transaction holds the one writer). Returns the rows deleted. Inside `transaction`.
   */
  async deleteUnlisted(key: SnapshotKey, ids: string[], before: number): Promise<Array<{ id: string; reportedDeleted: boolean }>> {
    const still = this.db('snapshots')
      .where({ instance_id: key.instanceId, object_type: key.objectType })
      .whereIn('object_id', ids)
      .where('listed_generation', '<', before);
    const gone = (await (isPostgres(this.db) ? still.clone().forUpdate() : still.clone()).select('object_id', 'reported_deleted')) as Array<{
      object_id: string;
      reported_deleted: boolean | number;
    }>;
    if (gone.length > 0)
      await still
        .clone()
        .whereIn(
          'object_id',
          gone.map((r) => r.object_id),
        )
        .delete();
    return gone.map((r) => ({ id: r.object_id, reportedDeleted: Boolean(r.reported_deleted) }));
  }

  /**
   * After a listing stored many new snapshot rows (the first listing of a large account), PostgreSQL
   * may still plan lookups by id as scans of the whole object until autovacuum analyzes the table:
   * analyze it now, so the next listing's lookups use the primary key.
   */
  async refreshStatistics(storedRows: number): Promise<void> {
    if (isPostgres(this.db) && storedRows > ANALYZE_AFTER_ROWS) await this.db.raw('ANALYZE snapshots');
  }
}
