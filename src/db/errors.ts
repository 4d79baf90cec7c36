/**
 * Which database errors may pass on their own: the server unreachable, restarting or out of
 * connections, a connection lost mid-query, the pool exhausted, a lock or busy timeout. Callers
 * answer those with "try again" (503 with Retry-After) instead of a failure of the request's own,
 * and the loops leave the work to its lease instead of counting it as the work's failure.
 */

// PostgreSQL SQLSTATEs: 08 connection exception, 53 insufficient resources (too many connections,
// disk full, out of memory), 57P01–57P05 shutdown / crash / cannot connect now / idle timeouts,
// 40001 serialization failure, 40P01 deadlock, 55P03 lock not available.
const PG_TRANSIENT = /^(08|53|57P0)|^(40001|40P01|55P03)$/;
// SQLite: another connection holds the write lock past busy_timeout; disk full or an I/O error.
const SQLITE_TRANSIENT = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_FULL', 'SQLITE_IOERR']);
// Socket errors of the database connection (node-postgres passes them on as plain system errors).
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);
// node-postgres's own messages for a connection that died or never came up (knex puts the SQL first).
const PG_CONNECTION_LOST = /(^| - )(Connection terminated|Client has encountered a connection error|timeout expired)/;

export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  // knex: no connection could be had from the pool in time.
  if (err.name === 'KnexTimeoutError') return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (SQLITE_TRANSIENT.has(code)) return true;
    // A server error carries a severity; its SQLSTATE says whether it may pass.
    if ('severity' in err) return PG_TRANSIENT.test(code);
    // A plain system error (not an HTTP client's, whose errors are classes of their own).
    if (SOCKET_CODES.has(code) && err.constructor === Error && 'syscall' in err) return true;
  }
  return PG_CONNECTION_LOST.test(err.message);
}

/** The `kind` label of `pollgate_errors_total`. */
export function errorKind(err: unknown): 'database_unavailable' | 'unexpected' {
  return isDatabaseUnavailable(err) ? 'database_unavailable' : 'unexpected';
}
