import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import type { Logger } from '../log.js';
import { migrations } from '../../db/migrations/index.js';

export type { Knex };
export type Db = Knex;

// Epoch-millisecond columns are bigint; node-pg answers those as strings unless told otherwise.
pg.types.setTypeParser(20, (v) => Number(v));

export interface DatabaseOptions {
  /** `sqlite:<path>`, `postgres://…`, or null for `<dataDir>/pollgate.db`. */
  url: string | null;
  dataDir: string;
  poolMax?: number;
  /** PostgreSQL schema to use (created if missing); tests give each run its own. */
  schema?: string;
  /** SQLite: how long a statement waits for another connection's write lock before it fails (SQLITE_BUSY). */
  busyTimeoutMs?: number;
  /** Where knex's own warnings go (else the console). */
  log?: Logger;
}

/**
 * knex's warnings (a connection refused or lost, each with its stack) as one-line log entries:
 * while the database is away there is one per attempt to connect.
 */
function knexLog(log: Logger | undefined): Knex.Config['log'] {
  if (!log) return undefined;
  const line = (message: unknown) => String(message instanceof Error ? message.message : message).split('\n')[0];
  return {
    warn: (message: unknown) => log.warn({ from: 'knex' }, line(message)),
    error: (message: unknown) => log.error({ from: 'knex' }, line(message)),
    deprecate: (message: unknown) => log.warn({ from: 'knex' }, line(message)),
    debug: (message: unknown) => log.debug({ from: 'knex' }, line(message)),
  };
}

/** Runs `fn` in `db`'s transaction when `db` is one (a store bound to a unit of work), else in a new one. */
export function inTransaction<T>(db: Knex, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db as Knex.Transaction) : db.transaction(fn);
}

export function isPostgres(db: Knex): boolean {
  return db.client.config.client === 'pg';
}

export function describeDatabase(options: DatabaseOptions): string {
  if (options.url?.startsWith('postgres')) return options.url.replace(/\/\/[^@/]*@/, '//***@');
  return sqlitePath(options);
}

function sqlitePath(options: DatabaseOptions): string {
  return options.url?.startsWith('sqlite:') ? options.url.slice('sqlite:'.length) : join(options.dataDir, 'pollgate.db');
}

const sqlitePragmas = (busyTimeoutMs: number) => [
  'PRAGMA journal_mode = WAL',
  'PRAGMA foreign_keys = ON',
  `PRAGMA busy_timeout = ${Math.max(0, Math.round(busyTimeoutMs))}`,
  'PRAGMA synchronous = NORMAL',
  // Checkpoint the WAL every 40 MB rather than every 4 MB: a first poll of a large account writes
  // tens of MB, and each checkpoint stalls the one writer (about a tenth of that poll's time).
  // The WAL file is cut back to 64 MB after a checkpoint that left it larger.
  'PRAGMA wal_autocheckpoint = 10000',
  'PRAGMA journal_size_limit = 67108864',
];

export function createDatabase(options: DatabaseOptions): Knex {
  if (options.url && /^postgres(ql)?:\/\//.test(options.url)) {
    return knexFactory({
      client: 'pg',
      connection: options.url,
      searchPath: options.schema ? [options.schema] : undefined,
      pool: { min: 0, max: options.poolMax ?? 10 },
      migrations: { migrationSource: migrationSource(), schemaName: options.schema },
      log: knexLog(options.log),
    });
  }
  const filename = sqlitePath(options);
  if (filename !== ':memory:') {
    mkdirSync(dirname(filename), { recursive: true, mode: 0o700 });
    // Only the gateway's user reads the database (SQLite gives its -wal/-shm files the same mode).
    closeSync(openSync(filename, 'a', 0o600));
    chmodSync(filename, 0o600);
  }
  const pragmas = sqlitePragmas(options.busyTimeoutMs ?? 5000);
  return knexFactory({
    client: 'sqlite3',
    connection: { filename },
    useNullAsDefault: true,
    // One connection: SQLite has one writer, and knex queues work for it.
    pool: {
      min: 1,
      max: 1,
      afterCreate: (conn: { run: (sql: string, cb: (err: Error | null) => void) => void }, done: (err: Error | null, c: unknown) => void) => {
        const next = (i: number) => (i === pragmas.length ? done(null, conn) : conn.run(pragmas[i], (err) => (err ? done(err, conn) : next(i + 1))));
        next(0);
      },
    },
    migrations: { migrationSource: migrationSource() },
    log: knexLog(options.log),
  });
}

function migrationSource(): Knex.MigrationSource<(typeof migrations)[number]> {
  return {
    getMigrations: async () => migrations,
    getMigrationName: (m) => m.name,
    getMigration: async (m) => m,
  };
}

/**
 * Brings the schema up to date. On PostgreSQL several nodes may start at once: an advisory lock
 * (per schema) makes them take turns, creating the schema and running the migrations, instead of
 * tripping over each other's CREATE SCHEMA or knex's own lock table.
 */
export async function migrate(db: Knex, schema?: string): Promise<void> {
  // Most starts find nothing to do: one SELECT answers that, without knex's lock-table round trips.
  if (await upToDate(db, schema)) return;
  if (!isPostgres(db)) {
    await db.migrate.latest();
    return;
  }
  const lockKey = `pollgate-migrate:${schema ?? 'public'}`;
  await db.transaction(async (trx) => {
    // A transaction-level lock held on one connection while the schema is created and migrate
    // runs on others. Inside the lock: concurrent `CREATE SCHEMA IF NOT EXISTS` is not safe in
    // PostgreSQL (one of two racing nodes fails on pg_namespace's unique index).
    await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [lockKey]);
    if (schema) await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [schema]);
    await db.migrate.latest();
  });
}

/**
 * True when the database has run exactly our migrations. Anything else (a table missing, one
 * pending, or one we do not know from a newer version) goes through knex, which applies or refuses.
 */
async function upToDate(db: Knex, schema?: string): Promise<boolean> {
  let done: string[];
  try {
    const table: Knex.QueryBuilder = schema ? db.withSchema(schema).from('knex_migrations') : db('knex_migrations');
    done = await table.pluck('name');
  } catch {
    return false; // no migrations table yet
  }
  const ours = new Set(migrations.map((m) => m.name));
  return done.length === ours.size && done.every((name) => ours.has(name));
}

/** True when every migration has run: what /health/ready reports. */
export async function isMigrated(db: Knex): Promise<boolean> {
  const [, pending] = (await db.migrate.list()) as [unknown[], unknown[]];
  return pending.length === 0;
}

/** Readiness: true when connected and migrated, false while migrations are pending; throws when unreachable. */
export async function isReady(db: Knex): Promise<boolean> {
  await db.raw('select 1');
  return isMigrated(db);
}
