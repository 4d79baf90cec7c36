import { mergeDeep, type Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { ConnectorDefinition } from '../connectors/schema.js';
import { resolvePollerObject, type ResolvedListing as ListingTarget, type ResolvedPoll } from '../connectors/resolve.js';
import { epochUnitOf, parseJavaDate, renderDateTemplates, renderDateTemplatesDeep } from '../templates/date-template.js';
import { buildResourceRequest } from '../provider/request-builder.js';
import type { ProviderCalls } from '../provider/calls.js';
import type { NewEvent } from '../events/record.js';
import type { Instance } from '../instances/store.js';
import type { InstanceSettings } from '../instances/settings.js';
import { hashRecord } from '../lib/stable-hash.js';
import { diffRecords, type DiffRecord, type DiffRules } from './diff.js';
import { forEachBatch, listingPages } from './fetch.js';
import { eventsFromFeed } from './event-feed.js';
import { sweepMissing, type SweepTarget } from './sweep.js';
import type { SnapshotStore } from './snapshot-store.js';
import type { PollStateStore } from './store.js';
import type { WakeUps } from '../db/wake-ups.js';
import { readDotted } from './records.js';
import { firstMatch } from '../lib/json-path.js';

/**
 * One poll of one object type of one instance (docs/connectors.md "Change detection"): fetch the
 * pages since the watermark minus the overlap — or, for a full listing, every record — and diff
 * them by id and hash batch by batch as they arrive, each batch's events and snapshot rows in one
 * transaction. The new watermark is returned only when the listing is done (the poller writes it
 * with the poll's outcome), so a crash re-polls and the hashes drop what was already written.
 * Throws on failure; the caller records the error and backs off.
 */
export interface PollObjectRow {
  id: number;
  instance_id: number;
  object_type: string;
  config: string;
  interval_ms: number;
  watermark: number;
  full_listing_at: number | null;
  last_success_at: number | null;
  /** Generation of the last full listing started, and of the last one that completed. */
  listing_generation: number;
  listed_generation: number | null;
}

export interface PollSummary {
  fetched: number;
  created: number;
  updated: number;
  deleted: number;
  /** False when maxPages cut the listing (the next poll continues from the last record's date). */
  complete: boolean;
  nextWatermark: number;
  /** The provider scope's rate budget cut the listing: the next poll goes when it returns. */
  delayed?: { until: number; reason: string };
  /** The object's columns this poll moves on (watermark, listing state): written with its outcome, in one update. */
  state: Record<string, unknown>;
}

export interface PollDeps {
  stores: { pollState: PollStateStore; snapshots: SnapshotStore };
  config: Config;
  log: Logger;
  providerCalls: ProviderCalls;
  /** Committed notifications wake the dispatcher (here and on other nodes). */
  wakeUps?: Pick<WakeUps, 'notify'>;
  /** Test seam: runs inside each write transaction (and before the final update), before the commit. */
  beforeCommit?: (objectType: string) => Promise<void> | void;
}

const COUNTED = { CREATED: 'created', UPDATED: 'updated', DELETED: 'deleted' } as const;

/** Records are diffed and written in batches of at least this many (pages are grouped up to it). */
const WRITE_BATCH = 1000;

export async function pollObject(
  deps: PollDeps,
  row: PollObjectRow,
  instance: Instance,
  connector: ConnectorDefinition,
  settings: InstanceSettings,
  startedAt: number,
): Promise<PollSummary> {
  const { config } = deps;
  const { pollState, snapshots } = deps.stores;
  const resolved = resolvePollerObject(connector, row.object_type, JSON.parse(row.config));
  const dates = resolved.datesConfiguration as
    | { updatedDateField?: string; updatedDateFormat?: string; createdDateField?: string; createdDateFormat?: string }
    | undefined;
  const firstPoll = row.last_success_at === null;
  // Full listings (no date filter, since = epoch) find deletions; only for objects with `deletes`.
  const fullListing = Boolean(resolved.deletes) && !firstPoll && (row.full_listing_at ?? 0) + config.poller.fullListingIntervalMinutes * 60_000 <= startedAt;
  const since = fullListing ? 0 : Math.max(instance.createdAt, row.watermark - config.poller.overlapSeconds * 1000);
  const tz = settings.timeZone;
  const scope = { iparam: instance.configuration, context: {} };
  const target = { connector, configuration: instance.configuration, instanceId: instance.id, scope };
  const baseUrl = await deps.providerCalls.baseUrlOf(target);
  const objectKey: SweepTarget = { instanceId: instance.id, objectType: row.object_type, idField: resolved.idField };
  // Snapshot rows this poll writes carry its listing generation (a poll that is not a full
  // listing: the last one started — see sweep.ts).
  const generation = fullListing ? await pollState.startListing(row.id, row.listing_generation) : row.listing_generation;

  const rules: DiffRules = { instanceCreatedAt: dates?.createdDateField ? instance.createdAt : null, isBaseline: () => false };
  if (fullListing) {
    // A record first met in a full listing is baseline unless its dates say it changed after the
    // instance was created; without dates, the object's first complete listing is all baseline.
    const firstListing = row.listed_generation === null;
    rules.isBaseline = (r) => {
      const changedAt = r.updatedAt ?? r.createdAt;
      return changedAt === undefined ? firstListing : changedAt <= instance.createdAt;
    };
  } else if (firstPoll && !/\$\{/.test(JSON.stringify(resolved)) && !dates?.updatedDateField) {
    // Without dates in the URL or the records, the first poll can only be a baseline.
    rules.isBaseline = () => true;
  }

  const record = (tx: SnapshotStore, events: NewEvent[]) =>
    tx.recordEvents({ id: instance.id, name: instance.name, elementKey: instance.elementKey }, events, {
      source: 'polling',
      now: startedAt,
      notify: settings.notificationsEnabled,
      maxPerNotification: settings.maxBatchSize ?? config.delivery.maxEventsPerNotification.polling,
    });

  // The pages of one listing (the object's, or its `deleted` listing) rendered with a since-time.
  const pages = (listed: ListingTarget, from = since, endPath?: string) => {
    const path = renderDateTemplates(listed.path, from, { timeZone: tz, encode: true, now: startedAt });
    const query = Object.fromEntries(
      Object.entries(listed.query).map(([k, v]) => [k, renderDateTemplates(String(v), from, { timeZone: tz, encode: false, now: startedAt })]),
    );
    const body = listed.body === undefined ? undefined : renderDateTemplatesDeep(listed.body, from, { timeZone: tz, encode: false, now: startedAt });
    return listingPages({
      pagination: listed.pagination,
      recordsPath: listed.recordsPath,
      endPath,
      maxPages: listed.pagination?.maxPages ?? config.poller.maxPages,
      build: (parts) =>
        buildResourceRequest({
          baseUrl,
          method: listed.method,
          path,
          query: { ...query, ...parts.query },
          headers: listed.headers,
          body: parts.body !== undefined ? mergeDeep((body as Record<string, unknown>) ?? {}, parts.body as Record<string, unknown>) : body,
          scope,
        }),
      send: (request) => deps.providerCalls.send(target, request, { maxAttempts: 3, retryDelayMs: 1000, timeoutMs: 10_000 }),
    });
  };

  const summary = { fetched: 0, created: 0, updated: 0, deleted: 0 };
  let storedRows = 0;
  /** Diffs and writes one batch; returns the last record date in it. */
  const writeBatch = async (batch: Record<string, unknown>[], idField: string, deletedListing: boolean): Promise<number | undefined> => {
    const records: DiffRecord[] = [];
    // Deleted records, from a listing of their own (Freshdesk's filter=deleted) or flagged in the
    // main one (Zendesk's status "deleted"): a change to such a record is DELETED.
    const deleted = new Set<Record<string, unknown>>();
    let last: number | undefined;
    for (const raw of batch) {
      summary.fetched++;
      const id = readDotted(raw, idField);
      if (id === undefined || id === null || id === '') continue;
      const r: DiffRecord = { id: String(id), record: raw, hash: hashRecord(raw) };
      if (dates?.updatedDateField) r.updatedAt = parseDate(readDotted(raw, dates.updatedDateField), dates.updatedDateFormat, tz);
      if (dates?.createdDateField) r.createdAt = parseDate(readDotted(raw, dates.createdDateField), dates.createdDateFormat, tz);
      last = r.updatedAt ?? last;
      // A provider that ignores the date filter must still not raise events for older records.
      if (!fullListing && r.updatedAt !== undefined && r.updatedAt < instance.createdAt) continue;
      if (deletedListing || (resolved.deletedWhen && isDeleted(raw, resolved.deletedWhen))) deleted.add(raw);
      records.push(r);
    }
    const known = await snapshots.load(
      objectKey,
      records.map((r) => r.id),
    );
    const { changes, changed, unchanged } = diffRecords(records, known, rules);
    const events: NewEvent[] = resolved.events
      ? eventsFromFeed(row.object_type, resolved.events, changes, startedAt)
      : changes.map((c) => ({
          eventType: deleted.has(c.record as Record<string, unknown>) ? 'DELETED' : c.eventType,
          objectType: row.object_type,
          objectId: c.objectId,
          date: new Date(c.date ?? startedAt).toISOString(),
          raw: c.record,
        }));
    const marks = fullListing ? unchanged : [];
    if (changed.length === 0 && marks.length === 0) return last;
    await snapshots.transaction(async (tx) => {
      await record(tx, events);
      await tx.upsert(
        objectKey,
        changed.map((r) => ({ id: r.id, hash: r.hash, deleted: deleted.has(r.record) })),
        startedAt,
        generation,
      );
      await tx.markListed(objectKey, marks, generation);
      await deps.beforeCommit?.(row.object_type);
    });
    if (events.length > 0 && settings.notificationsEnabled) deps.wakeUps?.notify('delivery');
    storedRows += changed.length - changed.filter((r) => known.has(r.id)).length;
    for (const e of events) if (e.eventType in COUNTED) summary[COUNTED[e.eventType as keyof typeof COUNTED]]++;
    return last;
  };

  const main = await forEachBatch(pages(resolved), WRITE_BATCH, (batch) => writeBatch(batch, resolved.idField, false));
  // A listing cut by the budget ends the poll there; the deleted listing then runs next time, from
  // the watermark as it was (a cut that skipped it must not move the watermark past deletions).
  const removed =
    !resolved.deleted || fullListing
      ? undefined
      : main.budget
        ? { pages: 0, complete: false, last: undefined }
        : await forEachBatch(
            pages(resolved.deleted, windowStart(resolved.deleted, since, startedAt), resolved.deleted.window?.coveredPath),
            WRITE_BATCH,
            (batch) => writeBatch(batch, resolved.deleted!.idField, true),
          );
  await snapshots.refreshStatistics(storedRows);
  if (fullListing && main.complete) {
    const swept = await sweepMissing(snapshots, objectKey, generation, row.listed_generation, record, new Date(startedAt).toISOString());
    summary.deleted += swept;
    if (swept > 0 && settings.notificationsEnabled) deps.wakeUps?.notify('delivery');
  }

  // A listing cut by maxPages continues next time from its last record's date (the earlier one when
  // both listings were cut), not from now.
  const cut = [main, removed].filter((l) => l && !l.complete).map((l) => l!.last);
  const complete = cut.length === 0;
  const lastDate = complete || cut.includes(undefined) ? undefined : Math.min(...(cut as number[]));
  let nextWatermark = complete ? startedAt : Math.max(row.watermark, lastDate ?? row.watermark);
  // The provider covered the deleted listing only up to a date (Salesforce's latestDateCovered):
  // the next poll starts there, so deletions it has not reported yet are not skipped.
  const covered = removed?.complete && typeof removed.endValue === 'string' ? Date.parse(removed.endValue) : Number.NaN;
  if (complete && covered < startedAt) nextWatermark = Math.max(row.watermark, Math.min(nextWatermark, covered + config.poller.overlapSeconds * 1000));
  const listed = fullListing && main.complete ? { listed_generation: generation } : {};
  const fullListingAt = (fullListing && main.complete) || firstPoll ? { full_listing_at: startedAt } : {};
  await deps.beforeCommit?.(row.object_type);
  const budget = main.budget ?? removed?.budget;
  return {
    ...summary,
    complete,
    nextWatermark,
    state: { watermark: nextWatermark, last_success_at: startedAt, ...fullListingAt, ...listed },
    ...(budget ? { delayed: { until: budget.until, reason: budget.reason } } : {}),
  };
}

/** A record's date as the poller reads it (epoch ms), or undefined when it cannot be read; the instance check reports the same. */
export function parseDate(value: unknown, format: string | undefined, tz: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const epoch = epochUnitOf(format);
  if (epoch) {
    // Epoch times may come as numbers or as numeric strings ("1764061200000").
    const n = typeof value === 'number' ? value : Number(String(value).trim());
    return Number.isFinite(n) ? (epoch === 's' ? n * 1000 : n) : undefined;
  }
  if (typeof value === 'number') return value < 1e11 ? value * 1000 : value;
  const parsed = format ? parseJavaDate(String(value), format, tz) : new Date(String(value));
  const ms = parsed?.getTime();
  return ms === undefined || Number.isNaN(ms) ? undefined : ms;
}

/**
 * A deleted listing's since-time, moved into the window its provider accepts (Salesforce's
 * getDeleted: start within the last 15 days, more than a minute before end). Deletions older than
 * the window are gone from the provider's log anyway; an earlier start only repeats deletions
 * already raised, which the snapshots drop.
 */
function windowStart(listing: ResolvedPoll, since: number, now: number): number {
  const w = listing.window;
  let from = since;
  if (w?.maxSeconds !== undefined) from = Math.max(from, now - w.maxSeconds * 1000);
  if (w?.minSeconds !== undefined) from = Math.min(from, now - w.minSeconds * 1000);
  return from;
}

/** `deletedWhen`: the value at `path` equals `equals` (Zendesk's `{"path": "$.status", "equals": "deleted"}`). */
function isDeleted(record: Record<string, unknown>, when: { path: string; equals: string | number | boolean }): boolean {
  return firstMatch(record, when.path) === when.equals;
}
