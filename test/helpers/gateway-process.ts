import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../src/config/index.js';
import { API_TOKEN, SECRET_KEY, TEST_PG_URL, usePostgres } from './gateway.js';
import { trackClosed, trackOpen } from './leaks.js';

/**
 * A gateway in a child process (`node --import tsx src/cli.ts start`, or with `binary` the built
 * `node dist/src/cli.js start`), for tests that kill one (SIGKILL) or drain one (SIGTERM). It shares the test's database: the SQLite file in `dataDir`, or
 * the PostgreSQL `schema`. Settings come from a POLLGATE_CONFIG file written into `dataDir`.
 */
export interface GatewayProcess {
  child: ChildProcess;
  url: string;
  nodeId: string;
  output: () => string;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

export async function startGatewayProcess(o: {
  dataDir: string;
  schema?: string;
  nodeId: string;
  config?: Record<string, unknown>;
  binary?: boolean;
  /** A PostgreSQL server of the test's own (with `schema`); default: the shared test database. */
  databaseUrl?: string;
  /** Options for node itself, e.g. `--max-old-space-size=…`. */
  nodeOptions?: string[];
}): Promise<GatewayProcess> {
  const configFile = join(o.dataDir, `${o.nodeId}.json`);
  writeFileSync(configFile, JSON.stringify({ log: { level: 'warn' }, server: { host: '127.0.0.1' }, ...o.config }));
  const args = o.binary ? [join(projectRoot, 'dist', 'src', 'cli.js'), 'start'] : ['--import', 'tsx', join(projectRoot, 'src', 'cli.ts'), 'start'];
  const child = spawn(process.execPath, [...(o.nodeOptions ?? []), ...args], {
    cwd: projectRoot,
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      POLLGATE_CONFIG: configFile,
      POLLGATE_DATA_DIR: o.dataDir,
      POLLGATE_API_TOKEN: API_TOKEN,
      POLLGATE_SECRET_KEY: SECRET_KEY,
      POLLGATE_NODE_ID: o.nodeId,
      // `npm run coverage` counts the gateway processes too.
      ...(process.env.NODE_V8_COVERAGE ? { NODE_V8_COVERAGE: process.env.NODE_V8_COVERAGE } : {}),
      ...(o.databaseUrl || usePostgres ? { DATABASE_URL: o.databaseUrl ?? TEST_PG_URL, POLLGATE_DB_SCHEMA: o.schema } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const handle = { child };
  trackOpen(handle);
  void exited.then(() => trackClosed(handle));
  const url = await new Promise<string>((resolve, reject) => {
    // Generous: a cold `tsx` start takes over 10 s on a loaded two-core machine, and nodes start in parallel.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gateway ${o.nodeId} did not start within 60 s:\n${output}`));
    }, 60_000);
    const check = () => {
      const m = /pollgate listening on (http:\/\/\S+) /.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway ${o.nodeId} exited with ${code}:\n${output}`));
    });
  });
  return {
    child,
    url,
    nodeId: o.nodeId,
    output: () => output,
    exited,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
