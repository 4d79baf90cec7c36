import type { PaginationDefinition } from '../connectors/schema.js';
import type { ProviderRequest, ProviderResult } from './http-client.js';
import { ProviderError } from './http-client.js';
import { RateBudgetWait } from './rate-budget.js';
import { firstMatch, plainSteps } from '../lib/json-path.js';
import { extractRecords } from './records.js';

/**
 * Walks every page of one listing, yielding each page's records as it arrives so that a listing
 * of any length needs the memory of a page, not of the listing. The caller supplies how to build
 * the first request and how to send one; this file knows only the four pagination styles of
 * docs/connectors.md ("Pagination") and when to stop.
 */
export interface ListingEnd {
  pages: number;
  /** False when `maxPages` or the rate budget cut the listing short. */
  complete: boolean;
  /** The rate budget of the provider scope ran out after the first page: the listing goes on at the next poll. */
  budget?: RateBudgetWait;
  /** The value at the plan's `endPath` in the last page (Salesforce's latestDateCovered). */
  endValue?: unknown;
  /** Cut because the answer held `maxRecords` records (a change feed's cap). */
  capped?: boolean;
}

export interface PageRequestParts {
  query: Record<string, string>;
  body?: unknown;
}

export interface FetchPlan {
  pagination?: PaginationDefinition;
  recordsPath?: string;
  /** A JSONPath read from each page; the last page's value is returned as `endValue`. */
  endPath?: string;
  /** A change feed's cap: an unpaged answer with this many records is cut (complete: false). */
  maxRecords?: number;
  /** An answer without the records path is an empty page, not a failed one. */
  recordsOptional?: boolean;
  maxPages: number;
  /** Builds the request for a page from its extra query params / body. */
  build(parts: PageRequestParts): ProviderRequest;
  send(request: ProviderRequest): Promise<ProviderResult>;
}

/**
 * A page's body and records, or a ProviderError when the answer is not the listing the connector
 * declares: a redirect (never followed: a login page or another host is no listing), an empty body,
 * a body that is not JSON, or JSON without the place its records should be (see extractRecords).
 * Read as an empty listing, such an answer would move the watermark past records never seen and,
 * in a full listing, count every record as missing; as a failed page the poll fails instead.
 */
function readPage(
  result: ProviderResult,
  recordsPath: string | undefined,
  url: string,
  recordsOptional = false,
): { body: unknown; records: Record<string, unknown>[] } {
  const notListing = (what: string) =>
    new ProviderError({
      status: result.status,
      headers: result.headers,
      response: result.response.slice(0, 500),
      errorSource: 'APP',
      attempts: result.attempts,
      message: `${what}, not a listing`,
    });
  if (result.status >= 300) throw notListing(`a redirect${redirectTarget(result.headers.location, url)} (redirects are not followed)`);
  if (result.status < 200) throw notListing(`an answer with status ${result.status}`);
  if (result.response.trim() === '') throw notListing('an empty body');
  let body: unknown;
  try {
    body = JSON.parse(result.response);
  } catch {
    const type = String(result.headers['content-type'] ?? '')
      .split(';')[0]
      .trim();
    throw notListing(`a body that is not JSON${type ? ` (${type.slice(0, 100)})` : ''}`);
  }
  const records = extractRecords(body, recordsPath) ?? (recordsOptional && typeof body === 'object' && body !== null ? [] : undefined);
  if (records === undefined)
    throw notListing(recordsPath ? `no records at ${recordsPath}, the connector's recordsPath` : 'neither a JSON array nor an object with an array field');
  return { body, records };
}

/** " to <origin and path>" of a redirect (its query may carry tokens: left out), or "". */
function redirectTarget(location: string | string[] | undefined, url: string): string {
  if (typeof location !== 'string' || location === '') return '';
  try {
    const target = new URL(location, url);
    return ` to ${target.origin}${target.pathname}`.slice(0, 300);
  } catch {
    return '';
  }
}

/** The `rel="next"` target of an RFC 8288 Link header, resolved against the current URL. */
export function nextLink(header: string | string[] | undefined, currentUrl: string): string | undefined {
  const text = Array.isArray(header) ? header.join(',') : header;
  if (!text) return undefined;
  for (const part of text.split(/,(?=\s*<)/)) {
    const m = /<([^>]*)>(.*)/.exec(part.trim());
    if (m && /;\s*rel="?([^";]*\s)?next(\s[^";]*)?"?/i.test(m[2])) return new URL(m[1], currentUrl).toString();
  }
  return undefined;
}

function isTruthy(v: unknown): boolean {
  return v === true || v === 'true' || v === 1;
}

export async function* listingPages(plan: FetchPlan): AsyncGenerator<Record<string, unknown>[], ListingEnd> {
  const p = plan.pagination;
  let pages = 0;
  let parts: PageRequestParts = { query: {} };
  let request: ProviderRequest | undefined;
  let endValue: unknown;
  const size = (p && 'size' in p && p.size) || undefined;

  if (p?.type === 'page') parts.query = { [p.pageParam]: String(p.firstPage ?? 1), ...(p.sizeParam && size ? { [p.sizeParam]: String(size) } : {}) };
  // An offset inside another value (a query statement's STARTPOSITION) is rendered into it.
  const offsetValue = (offset: number) =>
    p?.type === 'offset' && p.valueTemplate ? p.valueTemplate.replaceAll('{offset}', String(offset)).replaceAll('{size}', String(size ?? '')) : String(offset);
  let offset = p?.type === 'offset' ? (p.firstOffset ?? 0) : 0;
  if (p?.type === 'offset') parts.query = { [p.offsetParam]: offsetValue(offset), ...(p.sizeParam && size ? { [p.sizeParam]: String(size) } : {}) };
  if (p?.type === 'cursor' && p.sizeParam && size) parts.query = { [p.sizeParam]: String(size) };

  for (;;) {
    if (pages >= plan.maxPages) return { pages, complete: false };
    request = request ?? plan.build(parts);
    let result: ProviderResult;
    try {
      result = await plan.send(request);
    } catch (err) {
      // Out of budget after a page or more: cut here like maxPages, so a poll makes progress
      // even when its listing needs more requests than the budget grants it at once.
      if (err instanceof RateBudgetWait && pages > 0) return { pages, complete: false, budget: err };
      throw err;
    }
    pages++;
    const { body, records: pageRecords } = readPage(result, plan.recordsPath, request.url, plan.recordsOptional);
    if (plan.endPath) endValue = firstMatch(body, plan.endPath);
    yield pageRecords;

    // A change feed answered as many records as it answers at most: there may be more after the last.
    if (!p && plan.maxRecords !== undefined && pageRecords.length >= plan.maxRecords) return { pages, complete: false, capped: true };
    if (!p) break;
    if (p.type === 'page') {
      if (pageRecords.length === 0 || (size && pageRecords.length < size)) break;
      parts = { ...parts, query: { ...parts.query, [p.pageParam]: String(Number(parts.query[p.pageParam]) + 1) } };
      request = undefined;
    } else if (p.type === 'offset') {
      if (pageRecords.length === 0 || (size && pageRecords.length < size)) break;
      offset += pageRecords.length;
      parts = { ...parts, query: { ...parts.query, [p.offsetParam]: offsetValue(offset) } };
      request = undefined;
    } else if (p.type === 'cursor') {
      if (p.stopPath && isTruthy(firstMatch(body, p.stopPath))) break;
      if (p.hasMorePath && !isTruthy(firstMatch(body, p.hasMorePath))) break;
      const cursor = firstMatch(body, p.cursorPath);
      if (cursor === undefined || cursor === null || cursor === '') break;
      const value = String(cursor);
      // In a body, cursorParam is a path to a nested field (Intercom's pagination.starting_after).
      const previous =
        p.cursorIn === 'body' ? firstMatch((parts.body as Record<string, unknown> | undefined) ?? {}, p.cursorParam) : parts.query[p.cursorParam];
      if (previous === value) break; // a provider repeating its cursor would loop forever
      parts = p.cursorIn === 'body' ? { ...parts, body: nestedField(p.cursorParam, value) } : { ...parts, query: { ...parts.query, [p.cursorParam]: value } };
      request = undefined;
    } else if (p.type === 'link') {
      // Zendesk's exports always offer an after_url; end_of_stream says there is nothing behind it.
      if (p.stopPath && isTruthy(firstMatch(body, p.stopPath))) break;
      const fromBody = p.nextUrlPath ? firstMatch(body, p.nextUrlPath) : undefined;
      const next = typeof fromBody === 'string' && fromBody ? new URL(fromBody, request.url).toString() : nextLink(result.headers.link, request.url);
      if (!next || next === request.url) break;
      // The next URL gets the same headers and auth: only within the listing's origin (or one the
      // connector lists), so a provider's Link cannot hand the credentials to another host.
      const origin = new URL(next).origin;
      if (origin !== new URL(request.url).origin && !(p.allowedOrigins ?? []).some((o) => new URL(o).origin === origin)) {
        throw new Error(
          `the next-page link leads to ${origin}, another origin than the listing's; list it in the connector's pagination.allowedOrigins to follow it`,
        );
      }
      request = { ...request, url: next };
    } else break;
  }
  return { pages, complete: true, ...(plan.endPath ? { endValue } : {}) };
}

/**
 * Groups a listing's pages into batches of at least `minRecords` records (the last may be
 * smaller). Pages keep being fetched while the caller writes a batch — read-ahead of up to
 * READ_AHEAD_BATCHES more — so fetching and writing overlap even when one batch's write takes
 * longer than the next one's pages; memory stays at a few batches. When the caller stops early
 * (an error), the listing is abandoned.
 */
const READ_AHEAD_BATCHES = 3;

export async function* inBatches(
  pages: AsyncGenerator<Record<string, unknown>[], ListingEnd>,
  minRecords: number,
): AsyncGenerator<Record<string, unknown>[], ListingEnd> {
  const ahead: Record<string, unknown>[][] = [];
  let aheadRecords = 0;
  let end: ListingEnd | undefined;
  let failure: { error: unknown } | undefined;
  let stopped = false;
  // Wakes the reader (a page, the end or a failure arrived) and the fetcher (room in the read-ahead).
  let pageArrived: (() => void) | undefined;
  let roomMade: (() => void) | undefined;
  const fetcher = (async () => {
    try {
      for (;;) {
        while (aheadRecords >= minRecords * READ_AHEAD_BATCHES && !stopped) await new Promise<void>((resolve) => (roomMade = resolve));
        if (stopped) return;
        const step = await pages.next();
        if (step.done) return void (end = step.value);
        ahead.push(step.value);
        aheadRecords += step.value.length;
        pageArrived?.();
      }
    } catch (error) {
      failure = { error };
    } finally {
      pageArrived?.();
    }
  })();
  let batch: Record<string, unknown>[] = [];
  try {
    for (;;) {
      const page = ahead.shift();
      if (page === undefined) {
        if (failure) throw failure.error;
        if (end) {
          if (batch.length > 0) yield batch;
          return end;
        }
        await new Promise<void>((resolve) => (pageArrived = resolve));
        continue;
      }
      aheadRecords -= page.length;
      roomMade?.();
      batch = batch.length === 0 ? page : batch.concat(page);
      if (batch.length >= minRecords) {
        yield batch;
        batch = [];
      }
    }
  } finally {
    stopped = true;
    roomMade?.();
    // Ends the page walk after a pending fetch, if the caller stopped before the listing's end.
    void fetcher.then(() => pages.return({ pages: 0, complete: false })).catch(() => undefined);
  }
}

/** `a.b` (or `$.a.b`) and v → `{a: {b: v}}`: merged deeply into the request body by the caller. */
function nestedField(path: string, value: unknown): Record<string, unknown> {
  // Validation lets only paths of plain names reach here; any other is one literal name.
  const names = plainSteps(path) ?? [path];
  return names.reduceRight<Record<string, unknown>>((inner, key, i) => ({ [key]: i === names.length - 1 ? value : inner }), {});
}

/**
 * Walks a listing batch by batch (see inBatches), awaiting `write` for each; returns how the
 * listing ended and the last value other than undefined that `write` returned.
 */
export async function forEachBatch<T>(
  pages: AsyncGenerator<Record<string, unknown>[], ListingEnd>,
  minRecords: number,
  write: (batch: Record<string, unknown>[]) => Promise<T | undefined>,
): Promise<ListingEnd & { last: T | undefined }> {
  const batches = inBatches(pages, minRecords);
  let last: T | undefined;
  try {
    for (let step = await batches.next(); ; step = await batches.next()) {
      if (step.done) return { ...step.value, last };
      last = (await write(step.value)) ?? last;
    }
  } finally {
    // A failed write abandons the listing (a no-op when it ended).
    await batches.return({ pages: 0, complete: false });
  }
}
