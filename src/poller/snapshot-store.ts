import type { Knex } from 'knex';
import { bulkInsert } from '../db/bulk.js';
import { isPostgres } from '../db/index.js';
import { holdInstance } from '../db/instance-guard.js';
import { recordEvents, type EventInstance, type NewEvent, type RecordOptions } from '../events/record.js';

/**
 * The store of snapshots (the last hash seen of each record of an object type), which the poll
 * diffs against and the sweep marks and deletes from. A poll's changes — events and snapshot rows
 * — are written in one `transaction`, through the store it hands over.
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

/** A listing that stored more new rows than this refreshes PostgreSQL's statistics of the table. */
const ANALYZE_AFTER_ROWS = 50_000;

export class SnapshotStore {
  constructor(private readonly db: Knex) {}

  /** Runs `fn` in one transaction, with a store whose writes (events included) belong to it. */
  transaction<T>(fn: (tx: SnapshotStore) => Promise<T>): Promise<T> {
    return this.db.transaction((trx) => fn(new SnapshotStore(trx)));
  }

  /** Every snapshot of a deleted instance. */
  async deleteOfInstance(instanceId: number): Promise<void> {
    await this.db('snapshots').where({ instance_id: instanceId }).delete();
  }

  /** Records events (`events/record.ts`, the one door) in this store's transaction. */
  async recordEvents(instance: EventInstance, events: NewEvent[], o: RecordOptions): Promise<void> {
    await recordEvents(this.db, instance, events, o);
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
