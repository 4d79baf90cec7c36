import { execFileSync, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trackClosed, trackOpen } from './leaks.js';

/**
 * A PostgreSQL server of one test's own: `initdb` into a temporary folder, started with `pg_ctl`
 * on an OS-chosen port of 127.0.0.1, so the test may stop it hard (`pg_ctl -m immediate`, as a
 * crash or a failover would) without disturbing the shared test server. The binaries come from
 * `POLLGATE_TEST_PG_BIN`, else `pg_config --bindir`, else /usr/lib/postgresql/15/bin. PostgreSQL
 * refuses to run as root: under root the server runs as the `postgres` user.
 */
export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  url: string;
  port: number;
  /** Stops the server at once: no checkpoint, every connection cut (crash recovery at the next start). */
  crash(): void;
  /** Starts the server again and waits until it accepts connections. */
  start(): void;
  /** Stops it (if running) and removes its data. */
  close(): void;
  /** The server's log, for failure messages. */
  log(): string;
}

function binDir(): string {
  if (process.env.POLLGATE_TEST_PG_BIN) return process.env.POLLGATE_TEST_PG_BIN;
  try {
    return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
  } catch {
    return '/usr/lib/postgresql/15/bin';
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = binDir();
  if (!existsSync(join(bin, 'pg_ctl'))) throw new Error(`no PostgreSQL binaries in ${bin}: set POLLGATE_TEST_PG_BIN`);
  const dir = mkdtempSync(join(tmpdir(), 'pollgate-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const asUser: SpawnSyncOptions = {};
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
    chownSync(dir, uid, gid);
    Object.assign(asUser, { uid, gid });
  }
  const run = (tool: string, args: string[]) => {
    const r = spawnSync(join(bin, tool), args, { ...asUser, cwd: dir, encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}${r.error ?? ''}`);
  };
  const port = await freePort();
  run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
  // fsync off: the test stops the server process, not the machine, so the OS keeps what was written.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50`;
  const start = () => run('pg_ctl', ['-D', data, '-l', logFile, '-o', options, '-w', '-t', '60', 'start']);
  start();
  let running = true;
  const handle = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    crash() {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      running = false;
    },
    start() {
      start();
      running = true;
    },
    close() {
      if (!trackClosed(handle)) return;
      if (running) run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
  };
  trackOpen(handle);
  return handle;
}
