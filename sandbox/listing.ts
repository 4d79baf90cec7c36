import type { Collection, ProviderRecord } from './collection.js';

/**
 * GET /<collection>: filter the collection's sorted records by the query, then page and shape the
 * answer in the collection's style. Bad parameters answer 400 naming the parameter.
 */
export interface Listing {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

/** Query parameters with a meaning of their own; any other parameter is an equality filter. */
export const RESERVED_PARAMS = new Set(['page', 'per_page', 'offset', 'limit', 'cursor', 'updated_since', 'updated_at_gt', 'updated_at_gte', 'created_since']);

class BadParameter extends Error {}

export function listRecords(c: Collection, url: URL): Listing {
  try {
    const rows = filter(c.all(), url.searchParams);
    return paginate(c, rows, url);
  } catch (err) {
    if (err instanceof BadParameter) return { status: 400, body: { error: err.message } };
    throw err;
  }
}

function filter(sorted: ProviderRecord[], q: URLSearchParams): ProviderRecord[] {
  let rows = sorted;
  const after = q.get('updated_since') ?? q.get('updated_at_gt');
  if (after !== null) rows = rows.slice(firstUpdatedAfter(rows, time(q.has('updated_since') ? 'updated_since' : 'updated_at_gt', after), false));
  const from = q.get('updated_at_gte');
  if (from !== null) rows = rows.slice(firstUpdatedAfter(rows, time('updated_at_gte', from), true));
  const createdSince = q.get('created_since');
  if (createdSince !== null) {
    const iso = time('created_since', createdSince);
    rows = rows.filter((r) => r.created_at > iso);
  }
  for (const [field, value] of q) {
    if (!RESERVED_PARAMS.has(field)) rows = rows.filter((r) => String(r[field]) === value);
  }
  return rows;
}

/**
 * Index of the first row updated after `iso` (or at it, when `inclusive`). Rows are sorted by
 * updated_at, so a binary search keeps 100,000-record listings fast (benchmarks).
 */
function firstUpdatedAfter(rows: ProviderRecord[], iso: string, inclusive: boolean): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const before = inclusive ? rows[mid].updated_at < iso : rows[mid].updated_at <= iso;
    if (before) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** ISO 8601, or epoch seconds when numeric; answered as ISO with ms and 'Z' (the records' form). */
function time(param: string, value: string): string {
  const ms = /^\d+(\.\d+)?$/.test(value) ? Number(value) * 1000 : Date.parse(value);
  if (Number.isNaN(ms)) throw new BadParameter(`${param} must be an ISO 8601 time or epoch seconds, got "${value}"`);
  return new Date(ms).toISOString();
}

function integer(q: URLSearchParams, param: string, fallback: number, min: number): number {
  const raw = q.get(param);
  if (raw === null) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min) throw new BadParameter(`${param} must be an integer ≥ ${min}, got "${raw}"`);
  return n;
}

function paginate(c: Collection, rows: ProviderRecord[], url: URL): Listing {
  const q = url.searchParams;
  if (c.style === 'offset') {
    const offset = integer(q, 'offset', 0, 0);
    const limit = integer(q, 'limit', c.defaultPageSize, 1);
    return { status: 200, body: rows.slice(offset, offset + limit) };
  }
  if (c.style === 'cursor') {
    const start = decodeCursor(q.get('cursor'));
    const limit = integer(q, 'limit', c.defaultPageSize, 1);
    const next = start + limit < rows.length ? encodeCursor(start + limit) : null;
    return { status: 200, body: { data: rows.slice(start, start + limit), next_cursor: next } };
  }
  const page = integer(q, 'page', 1, 1);
  const size = integer(q, 'per_page', c.defaultPageSize, 1);
  const slice = rows.slice((page - 1) * size, page * size);
  const nextUrl = page * size < rows.length ? withPage(url, page + 1, size) : undefined;
  if (c.style === 'link') return { status: 200, headers: nextUrl ? { link: `<${nextUrl}>; rel="next"` } : {}, body: slice };
  if (c.style === 'hal') return { status: 200, body: { _embedded: { items: slice }, _links: nextUrl ? { next: { href: nextUrl } } : {} } };
  return { status: 200, body: slice };
}

function withPage(url: URL, page: number, size: number): string {
  const next = new URL(url);
  next.searchParams.set('page', String(page));
  next.searchParams.set('per_page', String(size));
  return next.toString();
}

/** Cursors are opaque to clients: the base64url of the next record's position. */
function encodeCursor(position: number): string {
  return Buffer.from(`pos:${position}`).toString('base64url');
}

function decodeCursor(cursor: string | null): number {
  if (!cursor) return 0;
  const match = /^pos:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new BadParameter(`cursor "${cursor}" is not one this provider issued`);
  return Number(match[1]);
}
