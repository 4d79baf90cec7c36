import type { EventType } from '../events/record.js';

/**
 * Change detection by id and content hash (docs/connectors.md "Change detection"). Pure: the caller reads
 * the previous snapshot (snapshot-store.ts) and writes events and the new snapshot in one transaction.
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

export interface DiffRules {
  /** The instance's creation time, for the CREATED/UPDATED choice when records carry both dates. */
  instanceCreatedAt: number | null;
  /** True for an unseen record that is part of the baseline: stored, but raising no event. */
  isBaseline(record: DiffRecord): boolean;
}

/**
 * Unseen id → CREATED (or UPDATED when the dates say it predates the instance and was edited),
 * unless the rules call it baseline; seen with another hash → UPDATED; same hash → nothing.
 * `changed` holds every record whose snapshot row must be written (baseline ones included), and
 * `unchanged` the ids met again as they were. An id listed twice in one batch (it moved while the
 * provider was paging) counts once, as its last — freshest — version.
 */
export function diffRecords(
  records: DiffRecord[],
  known: Map<string, string>,
  rules: DiffRules,
): { changes: Change[]; changed: DiffRecord[]; unchanged: string[] } {
  const changes: Change[] = [];
  const changed: DiffRecord[] = [];
  const unchanged: string[] = [];
  const lastIndex = new Map<string, number>();
  records.forEach((r, i) => lastIndex.set(r.id, i));
  for (const [i, r] of records.entries()) {
    if (lastIndex.get(r.id) !== i) continue;
    const previous = known.get(r.id);
    if (previous === r.hash) {
      unchanged.push(r.id);
      continue;
    }
    changed.push(r);
    if (previous === undefined && rules.isBaseline(r)) continue;
    let eventType: EventType = previous === undefined ? 'CREATED' : 'UPDATED';
    // With datesConfiguration: a record we never saw that existed before the instance and was
    // edited since is an update, not a creation (created == updated always marks CREATED).
    const createdAt = rules.instanceCreatedAt;
    if (previous === undefined && createdAt !== null && r.createdAt !== undefined && r.updatedAt !== undefined) {
      if (r.createdAt !== r.updatedAt && r.createdAt < createdAt) eventType = 'UPDATED';
    }
    changes.push({ eventType, objectId: r.id, record: r.record, date: r.updatedAt ?? r.createdAt });
  }
  return { changes, changed, unchanged };
}
