import type { Knex } from 'knex';
import { isPostgres } from '../db/index.js';
import type { NewEvent } from '../events/record.js';

/**
 * Delete detection by mark-and-sweep in the database, so a full listing of any size needs no list
 * of ids in memory. Each full listing of an object takes the next generation number; every
 * snapshot row it meets is marked with it as its page is written. When a listing completes, the
 * rows missing from it *and* from the complete listing before it (marked before that one) are the
 * deleted records: each is removed and raises DELETED in one transaction, so it is raised once.
 * A listing cut short or failed never sweeps; its marks only make rows look more recent, so they
 * can delay a deletion, never invent one.
 */
export interface SweepTarget {
  instanceId: number;
  objectType: string;
  idField: string;
}

const SWEEP_CHUNK = 1000;
/** A listing that stored more new rows than this refreshes PostgreSQL's statistics of the table. */
const ANALYZE_AFTER_ROWS = 50_000;

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

/** Marks snapshot rows met again, unchanged, by the listing of `generation`. */
export async function markListed(trx: Knex, target: SweepTarget, ids: string[], generation: number): Promise<void> {
  for (let i = 0; i < ids.length; i += 500) {
    await trx('snapshots')
      .where({ instance_id: target.instanceId, object_type: target.objectType })
      .whereIn('object_id', ids.slice(i, i + 500))
      .update({ listed_generation: generation });
  }
}

/**
 * After the listing of `generation` completed: rows no listing has met yet (written by webhooks)
 * count as met by this one; then rows marked before `previousComplete` (the complete listing
 * before this one; null for the first) are deleted, with their DELETED events written by
 * `record` in the same transaction. Returns how many were deleted.
 */
export async function sweepMissing(
  db: Knex,
  target: SweepTarget,
  generation: number,
  previousComplete: number | null,
  record: (trx: Knex, events: NewEvent[]) => Promise<void>,
  date: string,
): Promise<number> {
  const rows = () => db('snapshots').where({ instance_id: target.instanceId, object_type: target.objectType });
  await rows().whereNull('listed_generation').update({ listed_generation: generation });
  if (previousComplete === null) return 0;
  let deleted = 0;
  let after = '';
  for (;;) {
    // Keyset over the primary key: one pass over the object's rows however many are deleted.
    const found = (await rows().where('object_id', '>', after).where('listed_generation', '<', previousComplete).orderBy('object_id').limit(SWEEP_CHUNK).select('object_id')) as Array<{ object_id: string }>;
    if (found.length === 0) return deleted;
    after = found[found.length - 1].object_id;
    await db.transaction(async (trx) => {
      // Only rows still there, locked, raise DELETED: another node's sweep or a webhook's DELETED
      // may have removed some since the read (SQLite: the transaction holds the one writer).
      const still = trx('snapshots')
        .where({ instance_id: target.instanceId, object_type: target.objectType })
        .whereIn('object_id', found.map((r) => r.object_id))
        .where('listed_generation', '<', previousComplete);
      const gone = (await (isPostgres(db) ? still.clone().forUpdate() : still.clone()).select('object_id', 'reported_deleted')) as Array<{ object_id: string; reported_deleted: boolean | number }>;
      if (gone.length === 0) return;
      await still.clone().whereIn('object_id', gone.map((r) => r.object_id)).delete();
      // A record the provider reported deleted had its DELETED then: it leaves silently.
      const news = gone.filter((r) => !r.reported_deleted).map((r) => r.object_id);
      await record(trx, news.map((id) => ({ eventType: 'DELETED', objectType: target.objectType, objectId: id, date, raw: { [target.idField]: id } })));
      deleted += news.length;
    });
  }
}
