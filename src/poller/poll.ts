import type { Knex } from 'knex';
import { mergeDeep, type Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { ConnectorDefinition } from '../connectors/schema.js';
import { resolvePollerObject, type ResolvedListing as ListingTarget } from '../connectors/resolve.js';
import { parseJavaDate, renderDateTemplates, renderDateTemplatesDeep } from '../templates/date-template.js';
import { buildResourceRequest } from '../provider/request-builder.js';
import type { ProviderCalls } from '../provider/calls.js';
import { recordEvents, type NewEvent } from '../events/record.js';
import { bulkInsert } from '../db/bulk.js';
import type { Instance } from '../instances/store.js';
import type { InstanceSettings } from '../instances/settings.js';
import { hashRecord } from '../lib/stable-hash.js';
import { diffRecords, loadSnapshot, type DiffRecord } from './diff.js';
import { fetchListing } from './fetch.js';
import { eventsFromFeed } from './event-feed.js';
import { readDotted } from './records.js';
import { firstMatch } from '../lib/json-path.js';

/**
 * One poll of one object type of one instance (DESIGN.md "Change detection"): fetch every page
 * since the watermark minus the overlap, diff by id and hash, then write events, snapshot and the
 * new watermark in one transaction. Throws on failure; the caller records the error and backs off.
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
}

export interface PollSummary {
  fetched: number;
  created: number;
  updated: number;
  deleted: number;
  /** False when maxPages cut the listing (the next poll continues from the last record's date). */
  complete: boolean;
  nextWatermark: number;
}

export interface PollDeps {
  db: Knex;
  config: Config;
  log: Logger;
  providerCalls: ProviderCalls;
  /** Test seam: runs inside the commit transaction, after the writes, before the commit. */
  beforeCommit?: (objectType: string) => Promise<void> | void;
}

export async function pollObject(deps: PollDeps, row: PollObjectRow, instance: Instance, connector: ConnectorDefinition, settings: InstanceSettings, startedAt: number): Promise<PollSummary> {
  const { config } = deps;
  const resolved = resolvePollerObject(connector, row.object_type, JSON.parse(row.config));
  const dates = resolved.datesConfiguration as { updatedDateField?: string; updatedDateFormat?: string; createdDateField?: string; createdDateFormat?: string } | undefined;
  const firstPoll = row.last_success_at === null;
  // Full listings (no date filter, since = epoch) find deletions; only for objects with `deletes`.
  const fullListing = Boolean(resolved.deletes) && !firstPoll && (row.full_listing_at ?? 0) + config.poller.fullListingIntervalMinutes * 60_000 <= startedAt;
  const since = fullListing ? 0 : Math.max(instance.createdAt, row.watermark - config.poller.overlapSeconds * 1000);
  const tz = settings.timeZone;
  const scope = { iparam: instance.configuration, context: {} };
  const target = { connector, configuration: instance.configuration, instanceId: instance.id, scope };
  const baseUrl = await deps.providerCalls.baseUrlOf(target);
  // One listing (the object's, or its `deleted` listing) rendered with the since-time.
  const list = (listed: ListingTarget) => {
    const path = renderDateTemplates(listed.path, since, { timeZone: tz, encode: true, now: startedAt });
    const query = Object.fromEntries(Object.entries(listed.query).map(([k, v]) => [k, renderDateTemplates(String(v), since, { timeZone: tz, encode: false, now: startedAt })]));
    const body = listed.body === undefined ? undefined : renderDateTemplatesDeep(listed.body, since, { timeZone: tz, encode: false, now: startedAt });
    return fetchListing({
      pagination: listed.pagination,
      recordsPath: listed.recordsPath,
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

  const listing = await list(resolved);
  // Deleted records, from a listing of their own (Freshdesk's filter=deleted) or flagged in the
  // main one (Zendesk's status "deleted"): a change to such a record is DELETED.
  const deletedListing = resolved.deleted && !fullListing ? await list(resolved.deleted) : undefined;
  const deletedRecords = new Set<Record<string, unknown>>(deletedListing?.records);
  if (resolved.deletedWhen) for (const r of listing.records) if (isDeleted(r, resolved.deletedWhen)) deletedRecords.add(r);

  const records: DiffRecord[] = [];
  const lastDates: Array<number | undefined> = [];
  for (const [part, idField] of [[listing, resolved.idField], [deletedListing, resolved.deleted?.idField]] as const) {
    let last: number | undefined;
    for (const record of part?.records ?? []) {
      const id = readDotted(record, idField!);
      if (id === undefined || id === null || id === '') continue;
      const r: DiffRecord = { id: String(id), record, hash: hashRecord(record) };
      if (dates?.updatedDateField) r.updatedAt = parseDate(readDotted(record, dates.updatedDateField), dates.updatedDateFormat, tz);
      if (dates?.createdDateField) r.createdAt = parseDate(readDotted(record, dates.createdDateField), dates.createdDateFormat, tz);
      last = r.updatedAt ?? last;
      // A provider that ignores the date filter must still not raise events for older records.
      if (!fullListing && r.updatedAt !== undefined && r.updatedAt < instance.createdAt) continue;
      records.push(r);
    }
    if (part && !part.complete) lastDates.push(last);
  }

  // Without dates in the URL or the records, the first listing can only be a baseline.
  const hasDateFilter = /\$\{/.test(JSON.stringify(resolved));
  const baselineOnly = firstPoll && !hasDateFilter && !dates?.updatedDateField;
  const known = await loadSnapshot(deps.db, instance.id, row.object_type, records.map((r) => r.id));
  const { changes, changed } = diffRecords(records, known, dates?.createdDateField ? instance.createdAt : null);
  const events: NewEvent[] = baselineOnly
    ? []
    : resolved.events
      ? eventsFromFeed(row.object_type, resolved.events, changes, startedAt)
      : changes.map((c) => ({ eventType: deletedRecords.has(c.record as Record<string, unknown>) ? 'DELETED' as const : c.eventType, objectType: row.object_type, objectId: c.objectId, date: new Date(c.date ?? startedAt).toISOString(), raw: c.record }));

  let deletedIds: string[] = [];
  if (fullListing && listing.complete) {
    const all = await deps.db('snapshots').where({ instance_id: instance.id, object_type: row.object_type }).select('object_id');
    const present = new Set(records.map((r) => r.id));
    deletedIds = (all as Array<{ object_id: string }>).map((r) => r.object_id).filter((id) => !present.has(id));
    for (const id of deletedIds) events.push({ eventType: 'DELETED', objectType: row.object_type, objectId: id, date: new Date(startedAt).toISOString(), raw: { [resolved.idField]: id } });
  }

  // A listing cut by maxPages continues next time from its last record's date (the earlier one when
  // both listings were cut), not from now.
  const complete = lastDates.length === 0;
  const lastDate = complete || lastDates.includes(undefined) ? undefined : Math.min(...(lastDates as number[]));
  const nextWatermark = complete ? startedAt : Math.max(row.watermark, lastDate ?? row.watermark);

  const watermarkPatch = { watermark: nextWatermark, last_success_at: startedAt, ...((fullListing && listing.complete) || firstPoll ? { full_listing_at: startedAt } : {}) };
  if (events.length === 0 && changed.length === 0 && deletedIds.length === 0) {
    // Nothing changed (the common case): one UPDATE, no transaction.
    await deps.beforeCommit?.(row.object_type);
    await deps.db('poll_objects').where({ id: row.id }).update(watermarkPatch);
  } else {
    await deps.db.transaction(async (trx) => {
      await recordEvents(trx, { id: instance.id, name: instance.name, elementKey: instance.elementKey }, events, {
        source: 'polling',
        now: startedAt,
        notify: settings.notificationsEnabled,
        maxPerNotification: config.delivery.maxEventsPerNotification.polling,
      });
      await upsertSnapshot(trx, instance.id, row.object_type, changed, startedAt);
      for (let i = 0; i < deletedIds.length; i += 500) {
        await trx('snapshots').where({ instance_id: instance.id, object_type: row.object_type }).whereIn('object_id', deletedIds.slice(i, i + 500)).delete();
      }
      await trx('poll_objects').where({ id: row.id }).update(watermarkPatch);
      await deps.beforeCommit?.(row.object_type);
    });
  }

  const count = (t: string) => events.filter((e) => e.eventType === t).length;
  return { fetched: listing.records.length + (deletedListing?.records.length ?? 0), created: count('CREATED'), updated: count('UPDATED'), deleted: count('DELETED'), complete, nextWatermark };
}

async function upsertSnapshot(trx: Knex, instanceId: number, objectType: string, changed: DiffRecord[], now: number): Promise<void> {
  if (changed.length === 0) return;
  const rows = changed.map((r) => ({ instance_id: instanceId, object_type: objectType, object_id: r.id, hash: r.hash, seen_at: now }));
  await bulkInsert(trx, 'snapshots', rows, { onConflict: { columns: ['instance_id', 'object_type', 'object_id'], merge: ['hash', 'seen_at'] } });
}

function parseDate(value: unknown, format: string | undefined, tz: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'number') return value < 1e11 ? value * 1000 : value;
  const parsed = format ? parseJavaDate(String(value), format, tz) : new Date(String(value));
  const ms = parsed?.getTime();
  return ms === undefined || Number.isNaN(ms) ? undefined : ms;
}

/** `deletedWhen`: the value at `path` equals `equals` (Zendesk's `{"path": "$.status", "equals": "deleted"}`). */
function isDeleted(record: Record<string, unknown>, when: { path: string; equals: string | number | boolean }): boolean {
  return firstMatch(record, when.path) === when.equals;
}
