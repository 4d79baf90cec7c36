import type { NewEvent } from '../events/record.js';
import type { StoresOf, UnitOfWork } from '../feature.js';
import type { SnapshotKey } from './snapshot-store.js';

/**
 * Delete detection by mark-and-sweep in the database, so a full listing of any size needs no list
 * of ids in memory. Each full listing of an object takes the next generation number; every
 * snapshot row it meets is marked with it as its page is written. When a listing completes, the
 * rows missing from it *and* from the complete listing before it (marked before that one) are the
 * deleted records: each is removed and raises DELETED in one transaction, so it is raised once.
 * A listing cut short or failed never sweeps; its marks only make rows look more recent, so they
 * can delay a deletion, never invent one.
 */
export interface SweepTarget extends SnapshotKey {
  idField: string;
}

const SWEEP_CHUNK = 1000;

/**
 * After the listing of `generation` completed: rows no listing has met yet (written by webhooks)
 * count as met by this one; then rows marked before `previousComplete` (the complete listing
 * before this one; null for the first) are deleted, with their DELETED events written by
 * `record` in the same transaction. Returns how many were deleted.
 */
export async function sweepMissing(
  stores: StoresOf<'events' | 'snapshots'>,
  target: SweepTarget,
  generation: number,
  previousComplete: number | null,
  record: (uow: Pick<UnitOfWork, 'events' | 'snapshots'>, events: NewEvent[]) => Promise<void>,
  date: string,
): Promise<number> {
  const { snapshots } = stores;
  await snapshots.adoptUnlisted(target, generation);
  if (previousComplete === null) return 0;
  let deleted = 0;
  let after = '';
  for (;;) {
    // Keyset over the primary key: one pass over the object's rows however many are deleted.
    const found = await snapshots.unlistedAfter(target, previousComplete, after, SWEEP_CHUNK);
    if (found.length === 0) return deleted;
    after = found[found.length - 1];
    await stores.transaction(async (uow) => {
      // Only rows still there raise DELETED (deleteUnlisted checks them again, locked).
      const gone = await uow.snapshots.deleteUnlisted(target, found, previousComplete);
      if (gone.length === 0) return;
      // A record the provider reported deleted had its DELETED then: it leaves silently.
      const news = gone.filter((r) => !r.reportedDeleted).map((r) => r.id);
      await record(
        uow,
        news.map((id) => ({ eventType: 'DELETED', objectType: target.objectType, objectId: id, date, raw: { [target.idField]: id } })),
      );
      deleted += news.length;
    });
  }
}
