import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { ConnectorDefinition } from '../connectors/schema.js';
import { resolvePollerObject, type ResolvedPoll } from '../connectors/resolve.js';
import type { ProviderCalls, ProviderTarget } from '../provider/calls.js';
import type { Clock } from '../clock.js';
import type { TemplateScope } from '../templates/request-template.js';
import type { StoresOf } from '../feature.js';
import type { Instance } from '../instances/store.js';
import type { InstanceSettings } from '../instances/settings.js';
import type { DiffRules } from './diff.js';
import type { SweepTarget } from './sweep.js';
import type { WakeUps } from '../lib/wake-ups.js';
import { outsideChangeWindow } from './windows.js';
import { deltaListingOf, storedToken } from './delta.js';

/**
 * What one poll of one object will do, decided before its first request (poll.ts runs it): the
 * object resolved from its row, since when it lists, whether this is a full listing, which records
 * are a silent baseline, and a delta object's stored token.
 */

/** A row of poll_objects: one object type of one instance, with its watermark and listing state. */
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

export type DatesConfiguration = { updatedDateField?: string; updatedDateFormat?: string; createdDateField?: string; createdDateFormat?: string };

/** What one poll of one object is, decided before its first request (planPoll); read-only afterwards. */
export interface PollPlan {
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

/** One poll asked for: the object's row, its instance with connector and settings, and when it started. */
export interface PollRequest {
  row: PollObjectRow;
  instance: Instance;
  connector: ConnectorDefinition;
  settings: InstanceSettings;
  startedAt: number;
}

/** Resolves the object and decides what this poll lists: since when, whether a full listing, which records are baseline. */
export async function planPoll(deps: PollDeps, { row, instance, connector, settings, startedAt }: PollRequest): Promise<PollPlan> {
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
