#!/usr/bin/env node
import { loadConfig } from './config/index.js';
import { createDatabase, describeDatabase, migrate } from './db/index.js';
import { DefinitionError } from './errors.js';
import { Gateway } from './main.js';

/**
 * The command line: `start` runs the gateway until SIGTERM/SIGINT (which drain within
 * `shutdown.graceSeconds` and exit 0); `migrate` brings the database schema up to date.
 */
async function main(command: string): Promise<void> {
  const config = loadConfig();
  if (command === 'migrate') {
    const schema = config.database.schema ?? undefined;
    const db = createDatabase({ url: config.database.url, dataDir: config.database.dataDir, schema });
    await migrate(db, schema);
    await db.destroy();
    process.stdout.write(`migrated ${describeDatabase({ url: config.database.url, dataDir: config.database.dataDir })}\n`);
    return;
  }
  if (command !== 'start') throw new Error(`unknown command "${command}"; use start or migrate`);
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

main(process.argv[2] ?? 'start').catch((err) => {
  const message = err instanceof DefinitionError ? err.message : (err as Error).stack ?? String(err);
  process.stderr.write(`pollgate: ${message}\n`);
  process.exit(1);
});
