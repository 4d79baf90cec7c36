import type { Knex } from 'knex';
import type { EventType } from '../events/record.js';

/**
 * Change detection by id and content hash (DESIGN.md "Change detection", step 3). Pure except for
 * reading the previous snapshot; the caller writes events and the new snapshot in one transaction.
 */
export interface DiffRecord {
  id: string;
  record: Record<string, unknown>;
  hash: string;
  /** Parsed from datesConfiguration when given. */
  createdAt?: number;
  updatedAt?: number;
}

export interface Change {
  eventType: EventType;
  objectId: string;
  record: unknown;
  date: number | undefined;
}

/** Above this many ids one full read of the object's snapshot beats chunked IN lists. */
const FULL_READ_THRESHOLD = 2000;

export async function loadSnapshot(db: Knex, instanceId: number, objectType: string, ids: string[]): Promise<Map<string, string>> {
  const known = new Map<string, string>();
  const base = () => db('snapshots').where({ instance_id: instanceId, object_type: objectType }).select('object_id', 'hash');
  if (ids.length > FULL_READ_THRESHOLD) {
    for (const row of (await base()) as Array<{ object_id: string; hash: string }>) known.set(row.object_id, row.hash);
    return known;
  }
  for (let i = 0; i < ids.length; i += 500) {
    const rows = (await base().whereIn('object_id', ids.slice(i, i + 500))) as Array<{ object_id: string; hash: string }>;
    for (const row of rows) known.set(row.object_id, row.hash);
  }
  return known;
}

/**
 * Unseen id → CREATED (or UPDATED when the dates say it predates the instance and was edited);
 * seen with another hash → UPDATED; same hash → nothing. Later duplicates of an id in one listing
 * (a record that moved between pages) count once.
 */
export function diffRecords(records: DiffRecord[], known: Map<string, string>, instanceCreatedAt: number | null): { changes: Change[]; changed: DiffRecord[] } {
  const changes: Change[] = [];
  const changed: DiffRecord[] = [];
  const seenNow = new Set<string>();
  for (const r of records) {
    if (seenNow.has(r.id)) continue;
    seenNow.add(r.id);
    const previous = known.get(r.id);
    if (previous === r.hash) continue;
    let eventType: EventType = previous === undefined ? 'CREATED' : 'UPDATED';
    // With datesConfiguration: a record we never saw that existed before the instance and was
    // edited since is an update, not a creation (created == updated always marks CREATED).
    if (previous === undefined && instanceCreatedAt !== null && r.createdAt !== undefined && r.updatedAt !== undefined) {
      if (r.createdAt !== r.updatedAt && r.createdAt < instanceCreatedAt) eventType = 'UPDATED';
    }
    changes.push({ eventType, objectId: r.id, record: r.record, date: r.updatedAt ?? r.createdAt });
    changed.push(r);
  }
  return { changes, changed };
}
