import { mergeDeep } from '../config/index.js';
import type { ResolvedListing as ListingTarget } from '../connectors/resolve.js';
import { renderDateTemplates, renderDateTemplatesDeep } from '../templates/date-template.js';
import { buildResourceRequest } from '../provider/request-builder.js';
import type { ProviderRequest } from '../provider/http-client.js';
import { costBucketOf, graphqlPageSender } from '../provider/graphql-listing.js';
import { forEachBatch, listingPages as fetchListingPages, type ListingEnd } from '../provider/listing.js';
import { sweepMissing } from './sweep.js';
import { feedStalled, windowStart } from './windows.js';
import { deltaLinkRequest, deltaQuery, isExpiredToken, nextDeltaToken } from './delta.js';
import { planPoll, type PollDeps, type PollPlan, type PollRequest } from './poll-plan.js';
import { recordPolled, writeBatch, type PollTally } from './poll-batch.js';

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

/** Records are diffed and written in batches of at least this many (pages are grouped up to it). */
const WRITE_BATCH = 1000;

/** A listing's end, with the last record date its batches read. */
type ListingResult = ListingEnd & { last: number | undefined };

/**
 * One poll of one object type of one instance (docs/connectors.md "Change detection"): fetch the
 * pages since the watermark minus the overlap — or, for a full listing, every record — and diff
 * them by id and hash batch by batch as they arrive, each batch's events and snapshot rows in one
 * transaction. The new watermark is returned only when the listing is done (the poller writes it
 * with the poll's outcome), so a crash re-polls and the hashes drop what was already written.
 * Throws on failure; the caller records the error and backs off.
 */
export async function pollObject(deps: PollDeps, request: PollRequest): Promise<PollSummary> {
  const { row, instance, startedAt } = request;
  let plan = await planPoll(deps, request);
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
    plan = await planPoll(deps, { ...request, row: { ...row, delta_token: null } });
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
