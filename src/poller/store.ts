import type { Knex } from 'knex';
import { bulkInsert } from '../db/bulk.js';
import { isPostgres } from '../db/index.js';

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

export class PollStateStore {
  constructor(private readonly db: Knex) {}

  /** An instance's object types with their last poll, by name. */
  async objectsOf(instanceId: number): Promise<StatusRow[]> {
    return (await this.db('poll_objects').where({ instance_id: instanceId }).orderBy('object_type')) as StatusRow[];
  }
}

/*
 * The poller's SQL: snapshots (the last hash seen of each record) and poll_objects (each object
 * type's schedule and state). Nothing else in src/poller writes SQL.
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

type PlannedObject = { id: number; object_type: string; interval_ms: number | string; last_poll_at: number | null };

/** A listing that stored more new rows than this refreshes PostgreSQL's statistics of the table. */
const ANALYZE_AFTER_ROWS = 50_000;

/** The stored hashes of these ids: one lookup by primary key per batch, the ids as one array parameter. */
export async function loadSnapshot(db: Knex, key: SnapshotKey, ids: string[]): Promise<Map<string, string>> {
  const known = new Map<string, string>();
  if (ids.length === 0) return known;
  const sql = isPostgres(db)
    ? 'select object_id, hash from snapshots where instance_id = ? and object_type = ? and object_id = any(?::text[])'
    : 'select object_id, hash from snapshots where instance_id = ? and object_type = ? and object_id in (select value from json_each(?))';
  const result = await db.raw(sql, [key.instanceId, key.objectType, isPostgres(db) ? (ids as unknown as Knex.Value) : JSON.stringify(ids)]);
  for (const row of (isPostgres(db) ? result.rows : result) as Array<{ object_id: string; hash: string }>) known.set(row.object_id, row.hash);
  return known;
}

/** Writes (inserts or overwrites) the snapshot rows of changed records, marked with the listing `generation`. */
export async function upsertSnapshot(trx: Knex, key: SnapshotKey, changed: SnapshotWrite[], now: number, generation: number): Promise<void> {
  if (changed.length === 0) return;
  const rows = changed.map((r) => ({
    instance_id: key.instanceId,
    object_type: key.objectType,
    object_id: r.id,
    hash: r.hash,
    seen_at: now,
    listed_generation: generation,
    reported_deleted: r.deleted,
  }));
  await bulkInsert(trx, 'snapshots', rows, {
    onConflict: { columns: ['instance_id', 'object_type', 'object_id'], merge: ['hash', 'seen_at', 'listed_generation', 'reported_deleted'] },
  });
}

/** Marks snapshot rows met again, unchanged, by the listing of `generation`. */
export async function markListed(trx: Knex, key: SnapshotKey, ids: string[], generation: number): Promise<void> {
  for (let i = 0; i < ids.length; i += 500) {
    await trx('snapshots')
      .where({ instance_id: key.instanceId, object_type: key.objectType })
      .whereIn('object_id', ids.slice(i, i + 500))
      .update({ listed_generation: generation });
  }
}

/** Rows no listing has met yet (written by webhooks) count as met by the listing of `generation`. */
export async function adoptUnlisted(db: Knex, key: SnapshotKey, generation: number): Promise<void> {
  await db('snapshots')
    .where({ instance_id: key.instanceId, object_type: key.objectType })
    .whereNull('listed_generation')
    .update({ listed_generation: generation });
}

/** Up to `limit` ids after `after` (keyset over the primary key) last met before the listing `before`. */
export async function unlistedAfter(db: Knex, key: SnapshotKey, before: number, after: string, limit: number): Promise<string[]> {
  const rows = (await db('snapshots')
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
 * the transaction holds the one writer). Returns the rows deleted.
 */
export async function deleteUnlisted(trx: Knex, key: SnapshotKey, ids: string[], before: number): Promise<Array<{ id: string; reportedDeleted: boolean }>> {
  const still = trx('snapshots')
    .where({ instance_id: key.instanceId, object_type: key.objectType })
    .whereIn('object_id', ids)
    .where('listed_generation', '<', before);
  const gone = (await (isPostgres(trx) ? still.clone().forUpdate() : still.clone()).select('object_id', 'reported_deleted')) as Array<{
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
export async function refreshStatistics(db: Knex, storedRows: number): Promise<void> {
  if (isPostgres(db) && storedRows > ANALYZE_AFTER_ROWS) await db.raw('ANALYZE snapshots');
}

/** Takes the next generation number for a full listing of this poll object. */
export async function startListing(db: Knex, pollObjectId: number, lastGeneration: number): Promise<number> {
  const generation = lastGeneration + 1;
  await db('poll_objects').where({ id: pollObjectId }).update({ listing_generation: generation });
  return generation;
}

/** An instance's poll objects, as planning needs them. */
export async function plannedObjects(trx: Knex, instanceId: number): Promise<PlannedObject[]> {
  return (await trx('poll_objects').where({ instance_id: instanceId }).select('id', 'object_type', 'interval_ms', 'last_poll_at')) as PlannedObject[];
}

export async function deletePollObjects(trx: Knex, ids: number[]): Promise<void> {
  if (ids.length) await trx('poll_objects').whereIn('id', ids).delete();
}

export async function insertPollObject(trx: Knex, row: Record<string, unknown>): Promise<void> {
  await trx('poll_objects').insert(row);
}

/** Changes a poll object's columns; with `leaseOwner`, only while that node holds its lease. Returns the rows changed (0 or 1). */
export async function updatePollObject(db: Knex, id: number, patch: Record<string, unknown>, leaseOwner?: string): Promise<number> {
  return Number(
    await db('poll_objects')
      .where(leaseOwner === undefined ? { id } : { id, lease_owner: leaseOwner })
      .update(patch),
  );
}

/** How many object types an instance polls (or whether it polls `objectType`: 0 or 1). */
export async function countPollObjects(db: Knex, instanceId: number, objectType?: string): Promise<number> {
  const [row] = await db('poll_objects')
    .where({ instance_id: instanceId, ...(objectType === undefined ? {} : { object_type: objectType }) })
    .count<{ n: number }[]>({ n: '*' });
  return Number(row.n);
}

/** Restricts a claim to objects of instances whose events are enabled. */
export function ofEnabledInstances(db: Knex): (q: Knex.QueryBuilder) => Knex.QueryBuilder {
  return (q) => q.whereIn('instance_id', db('instances').select('id').where('events_enabled', true));
}
