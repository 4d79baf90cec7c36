import type Koa from 'koa';
import { ValidationError } from '../errors.js';

/**
 * Cloud Elements-style list paging: `?pageSize=` (default 50, max 500) and `?nextPage=<token>`,
 * the next token in the `Elements-Next-Page-Token` header, absent on the last page. The token is
 * the last row's id (keyset pagination), so pages stay stable while new rows arrive.
 */
export interface PageRequest {
  pageSize: number;
  /** Rows with an id strictly below this one (lists are newest first). */
  before?: number;
}

export function readPageRequest(ctx: Koa.Context): PageRequest {
  const raw = ctx.query.pageSize;
  let pageSize = 50;
  if (raw !== undefined) {
    pageSize = Number(raw);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 500) {
      throw new ValidationError('pageSize must be an integer from 1 to 500', [{ field: 'pageSize' }]);
    }
  }
  const token = ctx.query.nextPage;
  if (token === undefined) return { pageSize };
  const before = Number(Buffer.from(String(token), 'base64url').toString('utf8'));
  if (!Number.isInteger(before) || before < 1) throw new ValidationError('nextPage is not a valid page token', [{ field: 'nextPage' }]);
  return { pageSize, before };
}

/** Answers one page: fetch `pageSize + 1` rows, send `pageSize`, and point the header at the next. */
export function sendPage<T>(ctx: Koa.Context, rows: T[], page: PageRequest, idOf: (row: T) => number, present: (row: T) => unknown): void {
  const more = rows.length > page.pageSize;
  const shown = more ? rows.slice(0, page.pageSize) : rows;
  if (more) ctx.set('Elements-Next-Page-Token', Buffer.from(String(idOf(shown[shown.length - 1]))).toString('base64url'));
  ctx.body = shown.map(present);
}

/** Parses a positive integer path parameter, answering 400 for anything else. */
export function idParam(value: string | undefined, what: string): number {
  const id = Number(value);
  if (!Number.isInteger(id) || id < 1 || String(id) !== value) throw new ValidationError(`${what} id must be a positive integer`, [{ field: 'id', value }]);
  return id;
}
