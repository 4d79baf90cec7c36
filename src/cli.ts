#!/usr/bin/env node
import type { Knex } from 'knex';
import { loadConfig, type Config } from './config/index.js';
import { createDatabase, describeDatabase, migrate } from './db/index.js';
import { DefinitionError } from './errors.js';
import { Gateway } from './main.js';
import { SecretCipher } from './secrets/cipher.js';
import { rekey } from './secrets/stored.js';

/**
 * The command line: `start` runs the gateway until SIGTERM/SIGINT (which drain within
 * `shutdown.graceSeconds` and exit 0); `migrate` brings the database schema up to date; `rekey`
 * re-encrypts every stored secret with the current key (security.secretKey), reading old values
 * with security.previousSecretKeys.
 */
async function main(command: string): Promise<void> {
  const config = loadConfig();
  if (command === 'migrate') {
    await withMigratedDatabase(config, async () => {});
    process.stdout.write(`migrated ${describeDatabase({ url: config.database.url, dataDir: config.database.dataDir })}\n`);
    return;
  }
  if (command === 'rekey') {
    const cipher = SecretCipher.fromConfig(config.security.secretKey, config.database.dataDir, config.security.previousSecretKeys);
    const result = await withMigratedDatabase(config, (db) => rekey(db, cipher));
    process.stdout.write(`rekeyed ${result.rekeyed} secrets to key ${cipher.currentKeyId} (${result.current} already used it)\n`);
    if (result.unreadable.length > 0) throw new DefinitionError(`no configured key decrypts ${result.unreadable.length} values: ${result.unreadable.slice(0, 20).join(', ')}`);
    return;
  }
  if (command !== 'start') throw new Error(`unknown command "${command}"; use start, migrate or rekey`);
  const gateway = await Gateway.create({ config });
  const url = await gateway.listen();
  gateway.start();
  gateway.log.info({ url, database: describeDatabase({ url: config.database.url, dataDir: config.database.dataDir })}, 'pollgate is listening');
  process.stdout.write(`pollgate listening on ${url} (API under ${url}/elements/api-v2)\n`);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    gateway.log.info({ signal }, 'draining');
    gateway
      .stop(config.shutdown.graceSeconds * 1000)
      .then(() => process.exit(0))
      .catch((err) => {
        gateway.log.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

async function withMigratedDatabase<T>(config: Config, fn: (db: Knex) => Promise<T>): Promise<T> {
  const schema = config.database.schema ?? undefined;
  const db = createDatabase({ url: config.database.url, dataDir: config.database.dataDir, schema });
  try {
    await migrate(db, schema);
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

main(process.argv[2] ?? 'start').catch((err) => {
  const message = err instanceof DefinitionError ? err.message : (err as Error).stack ?? String(err);
  process.stderr.write(`pollgate: ${message}\n`);
  process.exit(1);
});
