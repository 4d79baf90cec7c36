import { DEFAULT_EXPIRED_STATUS } from '../connectors/delta.js';
import type { DeltaDefinition, PaginationDefinition } from '../connectors/schema.js';
import { ProviderError, type ProviderRequest } from '../provider/http-client.js';
import { firstMatch } from '../lib/json-path.js';
import type { ListingEnd } from '../provider/listing.js';
import { hashRecord } from '../lib/stable-hash.js';
import { renderDeep, renderString, type TemplateScope } from '../templates/request-template.js';

/**
 * Delta tokens as change detection (docs/connectors.md "Delta tokens"), the poller's half: which
 * request a poll sends with the object's stored token, when an answer says the token expired, and
 * the token a complete listing ends with. The token lives in poll_objects.delta_token and is
 * written with the poll's outcome, so it moves on only when the listing completed; without one the
 * poll lists everything (a full sync, with the baseline rule and the sweep of full listings).
 */

/** The first page's query: the token as `tokenParam`, or — without a token — the full-sync query. */
export function deltaQuery(delta: DeltaDefinition, token: string | null): Record<string, string> {
  if (token === null) return { ...delta.fullSyncQuery };
  return delta.tokenParam ? { [delta.tokenParam]: token } : {};
}

/**
 * The first page's request when the token is itself the next listing's URL (a delta link): that
 * URL in place of the built one, with the same headers. Only within the listing's origin (or one
 * its pagination allows), so a stored link cannot hand the credentials to another host.
 */
export function deltaLinkRequest(
  built: ProviderRequest,
  delta: DeltaDefinition,
  token: string | null,
  pagination: PaginationDefinition | undefined,
): ProviderRequest {
  if (token === null || delta.tokenParam) return built;
  let link: URL;
  try {
    link = new URL(token, built.url);
  } catch {
    throw new Error('the stored delta link is not a URL');
  }
  const allowed = [new URL(built.url).origin, ...((pagination && 'allowedOrigins' in pagination && pagination.allowedOrigins) || [])].map(
    (o) => new URL(o).origin,
  );
  if (!allowed.includes(link.origin))
    throw new Error(`the delta link leads to ${link.origin}, another origin than the listing's; list it in the pagination's allowedOrigins to follow it`);
  return { ...built, url: link.toString() };
}

/** The provider refused the stored token as expired (typically 410 Gone): the poll resyncs in full. */
export function isExpiredToken(delta: DeltaDefinition | undefined, token: string | null, err: unknown): boolean {
  if (!delta || token === null || !(err instanceof ProviderError)) return false;
  return (delta.expiredStatus ?? DEFAULT_EXPIRED_STATUS).includes(err.status);
}

/** A record the delta marks as removed (a value at `removedPath`, e.g. an `@removed` object). */
export function isRemoved(delta: DeltaDefinition | undefined, record: Record<string, unknown>): boolean {
  if (!delta?.removedPath) return false;
  const value = firstMatch(record, delta.removedPath);
  return value !== undefined && value !== null;
}

/**
 * What a token was made for: the listing's base, path and query with the instance's values. A token
 * stored for another listing — the instance's configuration changed (another folder, another
 * filter) — would list the other one's changes: it is not sent, and the poll syncs in full.
 */
export function deltaListingOf(
  baseUrl: string | undefined,
  listing: { method: string; path: string; query: Record<string, string> },
  scope: TemplateScope,
): string {
  return hashRecord({ baseUrl: baseUrl ?? '', method: listing.method, path: renderString(listing.path, scope), query: renderDeep(listing.query, scope) });
}

/** The stored token, if it was made for this listing (see deltaListingOf). */
export function storedToken(row: { delta_token?: string | null; delta_listing?: string | null }, listing: string): string | null {
  return row.delta_token && row.delta_listing === listing ? row.delta_token : null;
}

/** The token to store after a listing: the last page's, only when the listing completed (else none: the old one stays). */
export function nextDeltaToken(main: ListingEnd, listing: string): { delta_token: string; delta_listing: string } | Record<string, never> {
  const token = typeof main.endValue === 'number' && Number.isFinite(main.endValue) ? String(main.endValue) : main.endValue;
  return main.complete && typeof token === 'string' && token !== '' ? { delta_token: token, delta_listing: listing } : {};
}
