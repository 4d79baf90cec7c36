import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import got, { type Got } from 'got';
import knexFactory from 'knex';
import { loadConfig, mergeDeep, checkConfig, projectRoot, type Config } from '../../src/config/index.js';
import { ManualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { Gateway, type GatewayOptions } from '../../src/main.js';
import { createDatabase, migrate } from '../../src/db/index.js';
import { trackClosed, trackOpen } from './leaks.js';

/**
 * A gateway for one test: its own data folder and database (a fresh SQLite file, or with
 * POLLGATE_TEST_DB=postgres a fresh schema in the local PostgreSQL), a manual clock, listening on
 * an OS-chosen port. `close()` stops it and removes the data; root hooks fail a test that leaks one.
 */
export const TEST_PG_URL = process.env.POLLGATE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const usePostgres = process.env.POLLGATE_TEST_DB === 'postgres';
export const API_TOKEN = 'test-token-0123456789abcdef';
export const SECRET_KEY = 'test-secret-key-0123456789abcdef0123456789';

export interface TestGateway {
  gateway: Gateway;
  url: string;
  /** got with the API prefix, bearer token, JSON, and no throwing on 4xx/5xx. */
  api: Got;
  clock: ManualClock;
  config: Config;
  schema?: string;
  dataDir: string;
  close(): Promise<void>;
}

export function newSchemaName(): string {
  return `t_${randomBytes(6).toString('hex')}`;
}

export async function dropSchema(schema: string): Promise<void> {
  const db = knexFactory({ client: 'pg', connection: TEST_PG_URL, pool: { min: 0, max: 1 } });
  try {
    await db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
  } finally {
    await db.destroy();
  }
}

/** Test config: default.json + test.json-like settings + overrides, with a fresh database. */
export function testConfig(overrides: Record<string, unknown> = {}, dataDir = mkdtempSync(join(tmpdir(), 'pollgate-test-'))): Config {
  // config/test.json: what every test gateway starts from (quiet, no background loops).
  const base = loadConfig({ env: { POLLGATE_CONFIG: join(projectRoot, 'config', 'test.json') } });
  const merged = mergeDeep(
    base as unknown as Record<string, unknown>,
    mergeDeep(
      {
        server: { port: 0, host: '127.0.0.1', publicUrl: 'http://127.0.0.1:1' },
        database: { url: usePostgres ? TEST_PG_URL : null, dataDir, poolMax: 5 },
        auth: { apiToken: API_TOKEN },
        security: { secretKey: SECRET_KEY },
        log: { level: 'silent' },
        poller: { enabled: false },
        delivery: { enabled: false },
        schedules: { enabled: false },
      },
      overrides,
    ),
  );
  return checkConfig(merged);
}

/**
 * A migrated SQLite file made once per test process: a fresh test gateway starts from a copy of
 * it instead of running every migration again (its own start still checks them, and finds none
 * pending). Migrations themselves run here, on an empty database, as in production.
 */
let migratedTemplate: Promise<string> | undefined;
function sqliteTemplate(): Promise<string> {
  migratedTemplate ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pollgate-template-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const db = createDatabase({ url: null, dataDir: dir });
    try {
      await migrate(db);
    } finally {
      await db.destroy();
    }
    return join(dir, 'pollgate.db');
  })();
  return migratedTemplate;
}

export async function startGateway(
  o: { config?: Record<string, unknown>; options?: Partial<GatewayOptions>; clock?: ManualClock; schema?: string; dataDir?: string } = {},
): Promise<TestGateway> {
  const clock = o.clock ?? new ManualClock();
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'pollgate-test-'));
  const config = testConfig(o.config, dataDir);
  const schema = usePostgres ? (o.schema ?? newSchemaName()) : undefined;
  // A fresh data folder on SQLite starts from the migrated template (a given folder keeps its data).
  if (!o.dataDir && config.database.url === null) copyFileSync(await sqliteTemplate(), join(dataDir, 'pollgate.db'));
  const gateway = await Gateway.create({ config, clock, log: silentLogger, schema, sleep: async () => {}, ...o.options });
  const url = await gateway.listen(0, '127.0.0.1');
  const api = got.extend({
    prefixUrl: `${url}/elements/api-v2`,
    headers: { authorization: `Bearer ${API_TOKEN}` },
    throwHttpErrors: false,
    retry: { limit: 0 },
    responseType: 'json',
  });
  const t: TestGateway = {
    gateway,
    url,
    api,
    clock,
    config,
    schema,
    dataDir,
    async close() {
      if (!trackClosed(t)) return;
      await gateway.stop();
      if (schema && !o.schema) await dropSchema(schema);
      if (!o.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  trackOpen(t);
  return t;
}

/** How many instances the gateway has, as its API lists them. */
export async function instanceCount(t: TestGateway): Promise<number> {
  return ((await t.api.get('instances')).body as unknown as unknown[]).length;
}
