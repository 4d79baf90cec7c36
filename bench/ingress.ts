import { createHmac } from 'node:crypto';
import { spawn } from 'node:child_process';
import autocannon from 'autocannon';
import type { Result } from './lib.js';

/**
 * Scenario 2, webhook ingress: autocannon against POST /hooks/:token with a signed JSON body (the
 * raw body is stored durably before each 202), and the same load against a bare koa JSON handler
 * in the same kind of process: the floor.
 */
const BODY = JSON.stringify({ events: [{ type: 'contacts', action: 'updated', id: 42, data: { name: 'Ada', email: 'ada@example.com' } }] });
const SIGNATURE = createHmac('sha256', 'bench-secret').update(BODY).digest('hex');

async function startServer(mode: 'gateway' | 'bare', database: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./ingress-server.ts', import.meta.url).pathname, mode, database], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line).url);
    });
    child.on('exit', (code) => reject(new Error(`ingress ${mode} server exited with ${code}`)));
  });
  return { url, stop: () => new Promise<void>((r) => (child.once('exit', () => r()), child.kill('SIGTERM'))) };
}

async function load(url: string, seconds: number): Promise<{ rps: number; p99: number; non2xx: number }> {
  const result = await autocannon({
    url, method: 'POST', connections: 32, duration: seconds, body: BODY,
    headers: { 'content-type': 'application/json', 'x-signature': SIGNATURE },
  });
  return { rps: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx };
}

export async function ingressScenario(database: 'sqlite' | 'postgres', seconds: number): Promise<Result[]> {
  const bare = await startServer('bare', database);
  const floor = await load(bare.url, seconds).finally(() => bare.stop());
  const gateway = await startServer('gateway', database);
  const measured = await load(gateway.url, seconds).finally(() => gateway.stop());
  if (measured.non2xx > 0) throw new Error(`${measured.non2xx} ingress requests did not get a 2xx`);
  const ratio = measured.rps / floor.rps;
  return [
    { scenario: 'webhook ingress', database, figure: `req/s (p99 ${measured.p99} ms; floor p99 ${floor.p99} ms)`, value: Math.round(measured.rps), unit: 'req/s', floor: Math.round(floor.rps), ratio: +ratio.toFixed(2), target: '≥ 0.5× floor', pass: ratio >= 0.5 },
  ];
}
