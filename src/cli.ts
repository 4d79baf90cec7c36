#!/usr/bin/env node
import { Command, type CommanderError } from 'commander';
import type { Knex } from 'knex';
import type { Config } from './config/index.js';
import { addClientCommands } from './cli/commands.js';
import { CliError, DEFAULT_URL, EXIT } from './cli/client.js';
import { escapeControls } from './api/text.js';

/**
 * The `pollgate` command line. `start` runs the gateway in the foreground until SIGTERM/SIGINT
 * (which drain within `shutdown.graceSeconds`, give back every lease and exit 0) — the way to run
 * it under a supervisor; `migrate` brings the database schema up to date; `rekey` re-encrypts the
 * stored secrets with the current key; the other commands are clients of a running gateway's REST
 * API. Any error prints one line and exits non-zero.
 */
const program = new Command('pollgate')
  .description('pollgate, an event gateway: run it, or talk to a running one')
  .version('0.1.0')
  .option('--url <url>', 'the gateway (env POLLGATE_URL)', process.env.POLLGATE_URL ?? DEFAULT_URL)
  .option('--token <token>', 'the API token (env POLLGATE_API_TOKEN)')
  .option('--json', 'print JSON for scripts instead of tables')
  // Usage errors exit 2 (like bad input); --help and --version exit 0.
  .exitOverride((err: CommanderError) => {
    process.exit(err.exitCode === 0 ? 0 : EXIT.badInput);
  });

program.command('start').description('runs the gateway in the foreground; SIGTERM or SIGINT stops it gracefully').action(start);

program
  .command('migrate')
  .description('brings the database schema up to date')
  .action(async () => {
    const { loadConfig } = await import('./config/index.js');
    const { describeDatabase } = await import('./db/index.js');
    const config = loadConfig();
    await withMigratedDatabase(config, async () => {});
    process.stdout.write(`migrated ${describeDatabase({ url: config.database.url, dataDir: config.database.dataDir })}\n`);
  });

program
  .command('rekey')
  .description('re-encrypts every stored secret with the current key (security.secretKey), reading old values with security.previousSecretKeys')
  .action(async () => {
    const { loadConfig } = await import('./config/index.js');
    const { SecretCipher } = await import('./secrets/cipher.js');
    const { rekey } = await import('./secrets/stored.js');
    const config = loadConfig();
    const cipher = SecretCipher.fromConfig(config.security.secretKey, config.database.dataDir, config.security.previousSecretKeys);
    const result = await withMigratedDatabase(config, (db) => rekey(db, cipher));
    process.stdout.write(`rekeyed ${result.rekeyed} secrets to key ${cipher.currentKeyId} (${result.current} already used it)\n`);
    if (result.unreadable.length > 0)
      throw new Error(`no configured key decrypts ${result.unreadable.length} values: ${result.unreadable.slice(0, 20).join(', ')}`);
  });

/** Opens and migrates the configured database for one command. Loaded on use: client commands start faster without it. */
async function withMigratedDatabase<T>(config: Config, fn: (db: Knex) => Promise<T>): Promise<T> {
  const { createDatabase, migrate } = await import('./db/index.js');
  const schema = config.database.schema ?? undefined;
  const db = createDatabase({ url: config.database.url, dataDir: config.database.dataDir, schema });
  try {
    await migrate(db, schema);
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

addClientCommands(program);

async function start(): Promise<void> {
  const { loadConfig } = await import('./config/index.js');
  const { describeDatabase } = await import('./db/index.js');
  const { Gateway } = await import('./main.js');
  const config = loadConfig();
  const gateway = await Gateway.create({ config });
  const url = await gateway.listen();
  gateway.start();
  gateway.log.info({ url, database: describeDatabase({ url: config.database.url, dataDir: config.database.dataDir }) }, 'pollgate is listening');
  process.stdout.write(`pollgate listening on ${url} (API under ${url}/elements/api-v2, console at ${url}/console)\n`);
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

program.parseAsync(process.argv).catch((err) => {
  if (err instanceof CliError) {
    // The message may quote the gateway's answer: its control characters are escaped.
    process.stderr.write(`pollgate: ${escapeControls(err.message)}\n`);
    process.exit(err.exitCode);
  }
  // Start-up problems (config, connector files, database) and anything else: one line.
  process.stderr.write(`pollgate: ${escapeControls(String((err as Error).message ?? err).replace(/\s*\n\s*/g, ' '))}\n`);
  process.exit(1);
});
