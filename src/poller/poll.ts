import { mergeDeep, type Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { ConnectorDefinition } from '../connectors/schema.js';
import { resolvePollerObject, type ResolvedListing as ListingTarget, type ResolvedPoll } from '../connectors/resolve.js';
import { renderDateTemplates, renderDateTemplatesDeep } from '../templates/date-template.js';
import { buildResourceRequest } from '../provider/request-builder.js';
import type { ProviderCalls, ProviderTarget } from '../provider/calls.js';
import type { ProviderRequest } from '../provider/http-client.js';
import { costBucketOf, graphqlPageSender } from '../provider/graphql-listing.js';
import { forEachBatch, listingPages as fetchListingPages, type ListingEnd } from '../provider/listing.js';
import { parseDate } from '../connectors/dates-configuration.js';
import type { Clock } from '../clock.js';
import type { TemplateScope } from '../templates/request-template.js';
import type { StoresOf, UnitOfWork } from '../feature.js';
import type { NewEvent } from '../events/record.js';
import type { Instance } from '../instances/store.js';
import type { InstanceSettings } from '../instances/settings.js';
import { hashRecord } from '../lib/stable-hash.js';
import { diffRecords, type DiffRecord, type DiffRules } from './diff.js';
import { eventsFromFeed } from './event-feed.js';
import { sweepMissing, type SweepTarget } from './sweep.js';
import type { WakeUps } from '../lib/wake-ups.js';
import { firstMatch } from '../lib/json-path.js';
import { feedStalled, outsideChangeWindow, windowStart } from './windows.js';
import { deltaLinkRequest, deltaListingOf, deltaQuery, isExpiredToken, isRemoved, nextDeltaToken, storedToken } from './delta.js';

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
  /** The delta token the last complete listing ended with (objects with `delta`; see delta.ts), and the listing it is for. */
  delta_token?: string | null;
  delta_listing?: string | null;
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
  /**
   * A change feed's answer was full, but its records span no more than the overlap: the next poll
   * would ask the same and get the same, so it goes at the object's interval, not at once.
   */
  stalled?: boolean;
  /** The object's columns this poll moves on (watermark, listing state): written with its outcome, in one update. */
  state: Record<string, unknown>;
}

export interface PollDeps {
  stores: StoresOf<'events' | 'pollState' | 'snapshots'>;
  config: Config;
  log: Logger;
  providerCalls: ProviderCalls;
  /** The gateway's clock: a GraphQL listing's cost bucket reads the time from it. */
  clock?: Clock;
  /** Committed notifications wake the dispatcher (here and on other nodes). */
  wakeUps?: Pick<WakeUps, 'notify'>;
}

const COUNTED = { CREATED: 'created', UPDATED: 'updated', DELETED: 'deleted' } as const;

/** Records are diffed and written in batches of at least this many (pages are grouped up to it). */
const WRITE_BATCH = 1000;

type DatesConfiguration = { updatedDateField?: string; updatedDateFormat?: string; createdDateField?: string; createdDateFormat?: string };

/** A listing's end, with the last record date its batches read. */
type ListingResult = ListingEnd & { last: number | undefined };

/** What one poll of one object is, decided before its first request (planPoll); read-only afterwards. */
interface PollPlan {
  deps: PollDeps;
  row: PollObjectRow;
  instance: Instance;
  settings: InstanceSettings;
  startedAt: number;
  resolved: ResolvedPoll;
  dates: DatesConfiguration | undefined;
  firstPoll: boolean;
  /** No date filter (since = epoch): every record is listed, and what is missing was deleted. */
  fullListing: boolean;
  /** The listing this poll walks: the object's, or its baseline when the since-time left a change feed's window. */
  listing: ResolvedPoll;
  since: number;
  /** The provider call target and its API base. */
  target: ProviderTarget & { scope: TemplateScope };
  baseUrl: string | undefined;
  objectKey: SweepTarget;
  /** The listing generation the snapshot rows this poll writes carry (see sweep.ts). */
  generation: number;
  rules: DiffRules;
  /** A delta object's stored token (null: this poll is a full sync) and its listing (deltaListingOf), stored with the next token. */
  delta: { token: string | null; listing: string };
}

/** What the poll's batches added up to; each batch adds its part (writeBatch). */
interface PollTally {
  fetched: number;
  created: number;
  updated: number;
  deleted: number;
  /** Snapshot rows stored that were not there before (PostgreSQL's statistics follow them). */
  storedRows: number;
}

export async function pollObject(
  deps: PollDeps,
  row: PollObjectRow,
  instance: Instance,
  connector: ConnectorDefinition,
  settings: InstanceSettings,
  startedAt: number,
): Promise<PollSummary> {
  let plan = await planPoll(deps, row, instance, connector, settings, startedAt);
  const tally: PollTally = { fetched: 0, created: 0, updated: 0, deleted: 0, storedRows: 0 };
  const removed = await listDeleted(plan, tally);
  const listMain = (p: PollPlan) => forEachBatch(listingPages(p, p.listing), WRITE_BATCH, (batch) => writeBatch(p, tally, batch, p.listing.idField, false));
  let main: ListingResult;
  try {
    main = removed?.budget ? { pages: 0, complete: false, last: undefined, budget: undefined } : await listMain(plan);
  } catch (err) {
    if (!isExpiredToken(plan.resolved.delta, plan.delta.token, err)) throw err;
    // The delta token expired: a full sync instead, diffed against the snapshots like a full listing.
    deps.log.info({ instanceId: instance.id, objectType: row.object_type }, 'delta token expired: full sync');
    plan = await planPoll(deps, { ...row, delta_token: null }, instance, connector, settings, startedAt);
    main = await listMain(plan);
  }
  // A delta full sync is the provider's whole state: what it did not list was deleted (one listing is enough).
  let previousComplete = plan.resolved.delta && row.listed_generation !== null ? plan.generation : row.listed_generation;
  if (plan.listing !== plan.resolved && main.complete && previousComplete === null) {
    // A change feed's first baseline has no complete listing before it to tell deletions by (a
    // record missing from one listing may only have moved between its pages): list once more, and
    // what both listings missed was deleted while the feed could not say so.
    previousComplete = plan.generation;
    plan = { ...plan, generation: await deps.stores.pollState.startListing(row.id, plan.generation) };
    main = await listMain(plan);
  }
  await deps.stores.snapshots.refreshStatistics(tally.storedRows);
  if (plan.fullListing && main.complete) {
    const swept = await sweepMissing(
      deps.stores,
      plan.objectKey,
      plan.generation,
      previousComplete,
      (uow, events) => recordPolled(plan, uow, events),
      new Date(startedAt).toISOString(),
    );
    tally.deleted += swept;
    if (swept > 0 && plan.settings.notificationsEnabled) deps.wakeUps?.notify('delivery');
  }
  return summaryOf(plan, tally, main, removed);
}

/** Resolves the object and decides what this poll lists: since when, whether a full listing, which records are baseline. */
async function planPoll(
  deps: PollDeps,
  row: PollObjectRow,
  instance: Instance,
  connector: ConnectorDefinition,
  settings: InstanceSettings,
  startedAt: number,
): Promise<PollPlan> {
  const { config } = deps;
  const resolved = resolvePollerObject(connector, row.object_type, JSON.parse(row.config));
  const dates = resolved.datesConfiguration as DatesConfiguration | undefined;
  const firstPoll = row.last_success_at === null;
  const after = Math.max(instance.createdAt, row.watermark - config.poller.overlapSeconds * 1000);
  const scope = { iparam: instance.configuration, context: {} };
  const target = { connector, configuration: instance.configuration, instanceId: instance.id, scope };
  const baseUrl = await deps.providerCalls.baseUrlOf(target);
  const deltaListing = resolved.delta ? deltaListingOf(baseUrl, resolved, scope) : '';
  const delta = { token: resolved.delta ? storedToken(row, deltaListing) : null, listing: deltaListing };
  // Full listings (no date filter, since = epoch) find deletions: for objects with `deletes`, for a
  // change feed whose since-time left its window, and for a delta object without a token (its first
  // poll, or the token expired) — unless it reads an event log from a cursor, which is never the
  // provider's whole state: without a token it is read from its start, its items deduplicated by id.
  const fullListing = resolved.delta
    ? delta.token === null && !resolved.events
    : outsideChangeWindow(resolved, after, startedAt) ||
      (Boolean(resolved.deletes) && !firstPoll && (row.full_listing_at ?? 0) + config.poller.fullListingIntervalMinutes * 60_000 <= startedAt);
  // A change feed cannot list everything (its since-time is bounded): every full listing of it is its baseline.
  const listing = fullListing && resolved.baseline ? resolved.baseline : resolved;
  // A provider that refuses a start time closer to now than sinceAgeSeconds gets an earlier one.
  const since = fullListing ? 0 : Math.min(after, startedAt - (resolved.sinceAgeSeconds ?? 0) * 1000);
  const objectKey: SweepTarget = { instanceId: instance.id, objectType: row.object_type, idField: resolved.idField };
  // Snapshot rows this poll writes carry its listing generation (a poll that is not a full
  // listing: the last one started — see sweep.ts).
  const generation = fullListing ? await deps.stores.pollState.startListing(row.id, row.listing_generation) : row.listing_generation;
  const rules = diffRulesOf(instance, resolved, dates, fullListing, firstPoll, row.listed_generation === null);
  return {
    deps,
    row,
    instance,
    settings,
    startedAt,
    resolved,
    dates,
    firstPoll,
    fullListing,
    listing,
    since,
    target,
    baseUrl,
    objectKey,
    generation,
    rules,
    delta,
  };
}

/** Which records are baseline (stored, no event) and which raise events. */
function diffRulesOf(
  instance: Instance,
  resolved: ResolvedPoll,
  dates: DatesConfiguration | undefined,
  fullListing: boolean,
  firstPoll: boolean,
  firstListing: boolean,
): DiffRules {
  const rules: DiffRules = { instanceCreatedAt: dates?.createdDateField ? instance.createdAt : null, isBaseline: () => false };
  if (fullListing) {
    // A record first met in a full listing is baseline unless its dates say it changed after the
    // instance was created; without dates, the object's first complete listing is all baseline.
    rules.isBaseline = (r) => {
      const changedAt = r.updatedAt ?? r.createdAt;
      return changedAt === undefined ? firstListing : changedAt <= instance.createdAt;
    };
  } else if (firstPoll && !/\$\{/.test(JSON.stringify(resolved)) && !dates?.updatedDateField) {
    // Without dates in the URL or the records, the first poll can only be a baseline.
    rules.isBaseline = () => true;
  }
  return rules;
}

/** The pages of one listing (the object's, or its `deleted` listing) rendered with a since-time. */
function listingPages(plan: PollPlan, listed: ListingTarget, from = plan.since - (plan.resolved.lookbackSeconds ?? 0) * 1000, endPath?: string) {
  const { deps, startedAt, target, baseUrl, instance, row } = plan;
  const tz = plan.settings.timeZone;
  const path = renderDateTemplates(listed.path, from, { timeZone: tz, encode: true, now: startedAt });
  const query = Object.fromEntries(
    Object.entries(listed.query).map(([k, v]) => [k, renderDateTemplates(String(v), from, { timeZone: tz, encode: false, now: startedAt })]),
  );
  const body = listed.body === undefined ? undefined : renderDateTemplatesDeep(listed.body, from, { timeZone: tz, encode: false, now: startedAt });
  const send = (request: ProviderRequest) => deps.providerCalls.send(target, request, { maxAttempts: 3, retryDelayMs: 1000, timeoutMs: 10_000 });
  // A change feed's cap applies to the feed itself; an answer without records is empty for its baseline too.
  const feed = plan.resolved.changeWindow;
  // A delta listing ends with the token to store on its last page, so it is never cut by maxPages.
  const delta = listed.delta;
  let pagesBuilt = 0;
  return fetchListingPages({
    pagination: listed.pagination,
    recordsPath: listed.recordsPath,
    endPath: delta ? delta.tokenPath : endPath,
    maxRecords: listed === plan.resolved ? feed?.maxRecords : undefined,
    recordsOptional: (listed === plan.resolved || listed === plan.resolved.baseline) && feed?.recordsOptional,
    maxPages: delta ? Number.POSITIVE_INFINITY : (listed.pagination?.maxPages ?? deps.config.poller.maxPages),
    build: (parts) => {
      const request = buildResourceRequest({
        baseUrl,
        method: listed.method,
        path,
        query: { ...query, ...(delta ? deltaQuery(delta, plan.delta.token) : {}), ...parts.query },
        headers: listed.headers,
        body: parts.body !== undefined ? mergeDeep((body as Record<string, unknown>) ?? {}, parts.body as Record<string, unknown>) : body,
        scope: target.scope,
      });
      // A delta link replaces the first page's URL; the pages after it follow the listing's pagination.
      if (!delta || pagesBuilt++ > 0) return request;
      return deltaLinkRequest(request, delta, plan.delta.token, listed.pagination);
    },
    send: listed.graphql
      ? graphqlPageSender(listed.graphql, send, {
          sleep: deps.providerCalls.sleep,
          now: () => deps.clock?.now() ?? Date.now(),
          maxWaitMs: deps.config.provider.maxRetryAfterSeconds * 1000,
          label: `${instance.elementKey} ${row.object_type}`,
          bucket: costBucketOf(deps.providerCalls, target.connector, instance.configuration, instance.id),
        })
      : send,
  });
}

/**
 * The deleted listing (usually a page) runs before the main one: when the budget then cuts the main
 * listing, the deletions up to now are already read, so the watermark can move to the main
 * listing's last record and the next poll goes on from there. (Run after it, a cut that skipped the
 * deleted listing could not move the watermark past deletions, and a listing longer than the budget
 * grants at once would start over at every poll, never getting further.) A deleted listing cut by
 * the budget ends the poll there; the main listing runs next time.
 */
async function listDeleted(plan: PollPlan, tally: PollTally): Promise<ListingResult | undefined> {
  const deleted = plan.resolved.deleted;
  if (!deleted || plan.fullListing) return undefined;
  return forEachBatch(listingPages(plan, deleted, windowStart(deleted, plan.since, plan.startedAt), deleted.window?.coveredPath), WRITE_BATCH, (batch) =>
    writeBatch(plan, tally, batch, deleted.idField, true),
  );
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
async function writeBatch(
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
async function recordPolled(plan: PollPlan, uow: Pick<UnitOfWork, 'events'>, events: NewEvent[]): Promise<void> {
  const { instance, settings, startedAt, deps } = plan;
  await uow.events.recordEvents({ id: instance.id, name: instance.name, elementKey: instance.elementKey }, events, {
    source: 'polling',
    now: startedAt,
    notify: settings.notificationsEnabled,
    maxPerNotification: settings.maxBatchSize ?? deps.config.delivery.maxEventsPerNotification.polling,
  });
}

/** The poll's counts, and the object's columns it moves on (watermark, listing state). */
function summaryOf(plan: PollPlan, tally: PollTally, main: ListingResult, removed: ListingResult | undefined): PollSummary {
  const { row, startedAt, fullListing, firstPoll, generation, deps } = plan;
  // A listing cut by maxPages continues next time from its last record's date (the earlier one when
  // both listings were cut), not from now.
  const cut = [main, removed].filter((l) => l && !l.complete).map((l) => l!.last);
  const complete = cut.length === 0;
  const lastDate = complete || cut.includes(undefined) ? undefined : Math.min(...(cut as number[]));
  let nextWatermark = complete ? startedAt : Math.max(row.watermark, lastDate ?? row.watermark);
  // The provider covered the deleted listing only up to a date (Salesforce's latestDateCovered):
  // the next poll starts there, so deletions it has not reported yet are not skipped.
  const covered = removed?.complete && typeof removed.endValue === 'string' ? Date.parse(removed.endValue) : Number.NaN;
  if (complete && covered < startedAt) nextWatermark = Math.max(row.watermark, Math.min(nextWatermark, covered + deps.config.poller.overlapSeconds * 1000));
  const listed = fullListing && main.complete ? { listed_generation: generation } : {};
  const fullListingAt = (fullListing && main.complete) || firstPoll ? { full_listing_at: startedAt } : {};
  const budget = main.budget ?? removed?.budget;
  const stalled = feedStalled(main, plan.since, deps.config.poller.overlapSeconds);
  if (stalled)
    deps.log.warn(
      { instanceId: row.instance_id, objectType: row.object_type, at: new Date(main.last!).toISOString() },
      'change feed full of records changed within the overlap: it cannot be paged further; polling on at the interval',
    );
  const { fetched, created, updated, deleted } = tally;
  return {
    fetched,
    created,
    updated,
    deleted,
    complete,
    nextWatermark,
    state: {
      watermark: nextWatermark,
      last_success_at: startedAt,
      ...fullListingAt,
      ...listed,
      ...(plan.resolved.delta ? nextDeltaToken(main, plan.delta.listing) : {}),
    },
    ...(budget ? { delayed: { until: budget.until, reason: budget.reason } } : {}),
    ...(stalled ? { stalled } : {}),
  };
}

/** `deletedWhen`: the value at `path` equals `equals` (Zendesk's `{"path": "$.status", "equals": "deleted"}`). */
function isDeleted(record: Record<string, unknown>, when: { path: string; equals: string | number | boolean }): boolean {
  return firstMatch(record, when.path) === when.equals;
}
