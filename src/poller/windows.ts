import type { ResolvedPoll } from '../connectors/resolve.js';
import type { ListingEnd } from '../provider/listing.js';

/**
 * The time windows providers put on listings (docs/connectors.md "Event logs", the `deleted` listing, and
 * "Change-data-capture listings"): which since-time a deleted listing may send, when a change
 * feed's since-time has left its window, and when a full answer of a feed cannot be paged further.
 */

/**
 * A deleted listing's since-time, moved into the window its provider accepts (Salesforce's
 * getDeleted: start within the last 15 days, more than a minute before end). Deletions older than
 * the window are gone from the provider's log anyway; an earlier start only repeats deletions
 * already raised, which the snapshots drop.
 */
export function windowStart(listing: ResolvedPoll, since: number, now: number): number {
  const w = listing.window;
  let from = since;
  if (w?.maxSeconds !== undefined) from = Math.max(from, now - w.maxSeconds * 1000);
  if (w?.minSeconds !== undefined) from = Math.min(from, now - w.minSeconds * 1000);
  return from;
}

/**
 * A change feed answers only for since-times within its window: an older one (the gateway was
 * stopped longer) is listed through the object's baseline instead, as a full listing.
 */
export function outsideChangeWindow(resolved: ResolvedPoll, since: number, now: number): boolean {
  const maxSeconds = resolved.changeWindow?.maxSeconds;
  return Boolean(resolved.baseline) && maxSeconds !== undefined && since < now - maxSeconds * 1000;
}

/**
 * A feed's answer was full (its cap), and its last record changed no later than the overlap after
 * the since-time: the next poll, starting at that record's date minus the overlap, would ask the
 * same and get the same. It cannot be paged further.
 */
export function feedStalled(main: ListingEnd & { last: number | undefined }, since: number, overlapSeconds: number): boolean {
  return Boolean(main.capped) && main.last !== undefined && main.last - overlapSeconds * 1000 <= since;
}
