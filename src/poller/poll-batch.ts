import type { UnitOfWork } from '../feature.js';
import type { NewEvent } from '../events/record.js';
import { parseDate } from '../connectors/dates-configuration.js';
import { hashRecord } from '../lib/stable-hash.js';
import { firstMatch } from '../lib/json-path.js';
import { diffRecords, type DiffRecord } from './diff.js';
import { eventsFromFeed } from './event-feed.js';
import { isRemoved } from './delta.js';
import type { PollPlan } from './poll-plan.js';

/**
 * One batch of a poll's records (poll.ts hands them over as the pages arrive): read into diff
 * records, diffed against the snapshot, and written — events, notifications and snapshot rows — in
 * one unit of work.
 */

const COUNTED = { CREATED: 'created', UPDATED: 'updated', DELETED: 'deleted' } as const;

/** What the poll's batches added up to; each batch adds its part (writeBatch). */
export interface PollTally {
  fetched: number;
  created: number;
  updated: number;
  deleted: number;
  /** Snapshot rows stored that were not there before (PostgreSQL's statistics follow them). */
  storedRows: number;
}

/** A batch's records as the diff reads them, with those deleted at the provider; `last`: the last record date in it. */
interface ReadBatch {
  records: DiffRecord[];
  deleted: Set<Record<string, unknown>>;
  last: number | undefined;
}

function readBatch(plan: PollPlan, batch: Record<string, unknown>[], idField: string, deletedListing: boolean): ReadBatch {
  const { dates, resolved, instance, fullListing } = plan;
  const tz = plan.settings.timeZone;
  const records: DiffRecord[] = [];
  // Deleted records, from a listing of their own (Freshdesk's filter=deleted) or flagged in the
  // main one (Zendesk's status "deleted"): a change to such a record is DELETED.
  const deleted = new Set<Record<string, unknown>>();
  let last: number | undefined;
  for (const raw of batch) {
    const id = firstMatch(raw, idField);
    if (id === undefined || id === null || id === '') continue;
    const r: DiffRecord = { id: String(id), record: raw, hash: hashRecord(raw) };
    if (dates?.updatedDateField) r.updatedAt = parseDate(firstMatch(raw, dates.updatedDateField), dates.updatedDateFormat, tz);
    if (dates?.createdDateField) r.createdAt = parseDate(firstMatch(raw, dates.createdDateField), dates.createdDateFormat, tz);
    last = r.updatedAt ?? last;
    // A provider that ignores the date filter must still not raise events for older records.
    if (!fullListing && r.updatedAt !== undefined && r.updatedAt < instance.createdAt) continue;
    if (deletedListing || (resolved.deletedWhen && isDeleted(raw, resolved.deletedWhen)) || isRemoved(resolved.delta, raw)) deleted.add(raw);
    records.push(r);
  }
  return { records, deleted, last };
}

/** The events of a batch's changes: the connector's event feed, or one event per changed record. */
function eventsOf(plan: PollPlan, changes: ReturnType<typeof diffRecords>['changes'], deleted: Set<Record<string, unknown>>): NewEvent[] {
  const { resolved, row, startedAt } = plan;
  if (resolved.events) return eventsFromFeed(row.object_type, resolved.events, changes, startedAt, resolved.delta ? 'oldest-first' : 'newest-first');
  return changes.map((c) => ({
    eventType: deleted.has(c.record as Record<string, unknown>) ? 'DELETED' : c.eventType,
    objectType: row.object_type,
    objectId: c.objectId,
    date: new Date(c.date ?? startedAt).toISOString(),
    raw: c.record,
  }));
}

/** Diffs and writes one batch (its events and snapshot rows in one unit of work); returns the last record date in it. */
export async function writeBatch(
  plan: PollPlan,
  tally: PollTally,
  batch: Record<string, unknown>[],
  idField: string,
  deletedListing: boolean,
): Promise<number | undefined> {
  const { deps, objectKey, generation, startedAt } = plan;
  tally.fetched += batch.length;
  const { records, deleted, last } = readBatch(plan, batch, idField, deletedListing);
  const known = await deps.stores.snapshots.load(
    objectKey,
    records.map((r) => r.id),
  );
  const { changes, changed, unchanged } = diffRecords(records, known, plan.rules);
  const events = eventsOf(plan, changes, deleted);
  const marks = plan.fullListing ? unchanged : [];
  if (changed.length === 0 && marks.length === 0) return last;
  await deps.stores.transaction(async (uow) => {
    await recordPolled(plan, uow, events);
    await uow.snapshots.upsert(
      objectKey,
      changed.map((r) => ({ id: r.id, hash: r.hash, deleted: deleted.has(r.record) })),
      startedAt,
      generation,
    );
    await uow.snapshots.markListed(objectKey, marks, generation);
  });
  // Committed: the dispatcher (here and on other nodes) takes the new notifications at once.
  if (events.length > 0 && plan.settings.notificationsEnabled) deps.wakeUps?.notify('delivery');
  tally.storedRows += changed.length - changed.filter((r) => known.has(r.id)).length;
  for (const e of events) if (e.eventType in COUNTED) tally[COUNTED[e.eventType as keyof typeof COUNTED]]++;
  return last;
}

/** Records a poll's events in its unit of work. */
export async function recordPolled(plan: PollPlan, uow: Pick<UnitOfWork, 'events'>, events: NewEvent[]): Promise<void> {
  const { instance, settings, startedAt, deps } = plan;
  await uow.events.recordEvents({ id: instance.id, name: instance.name, elementKey: instance.elementKey }, events, {
    source: 'polling',
    now: startedAt,
    notify: settings.notificationsEnabled,
    maxPerNotification: settings.maxBatchSize ?? deps.config.delivery.maxEventsPerNotification.polling,
  });
}

/** `deletedWhen`: the value at `path` equals `equals` (Zendesk's `{"path": "$.status", "equals": "deleted"}`). */
function isDeleted(record: Record<string, unknown>, when: { path: string; equals: string | number | boolean }): boolean {
  return firstMatch(record, when.path) === when.equals;
}
