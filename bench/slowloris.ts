import { createHmac } from 'node:crypto';
import http from 'node:http';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { percentile, startBenchProcess, type Result } from './lib.js';

/**
 * Slowloris: while an attacker (bench/slowloris-attacker.ts, a process of its own) keeps `sockets`
 * connections trickling header lines from `addresses` loopback addresses, a client on 127.0.0.1
 * checks `GET /health` and posts a signed webhook, each on a fresh connection (as a load balancer's
 * probe and a provider do), one after the other with 50 ms between rounds. Reported per endpoint:
 * the p99 of the answered requests and the share refused or unanswered within 2 s, with the same
 * client's p99 before the attack as the floor. The gateway is bench/ingress-server.ts's, with the
 * default server limits; BENCH_GATEWAY_ROOT=<checkout> runs that checkout's instead (to measure the
 * same attack against another version).
 */
const TIMEOUT_MS = 2000;

/** Milliseconds to a 2xx answer, or null when refused, failed or not answered in time. */
function timedRequest(url: string, method: 'GET' | 'POST', body?: string, headers?: Record<string, string>): Promise<number | null> {
  const started = performance.now();
  return new Promise((done) => {
    const req = http.request(url, { method, agent: false, timeout: TIMEOUT_MS, headers }, (res) => {
      res.resume();
      res.on('end', () => done((res.statusCode ?? 500) < 300 ? performance.now() - started : null));
      res.on('error', () => done(null));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', () => done(null));
    req.end(body);
  });
}

let sent = 0;
function webhook(url: string): Promise<number | null> {
  const id = ++sent;
  const body = JSON.stringify({ events: [{ type: 'contacts', action: 'updated', id, data: { name: `Ada ${id}` } }] });
  const signature = createHmac('sha256', 'bench-secret').update(body).digest('hex');
  return timedRequest(url, 'POST', body, { 'content-type': 'application/json', 'x-signature': signature });
}

interface Checks {
  health: Array<number | null>;
  hook: Array<number | null>;
}

/** Rounds of one health check and one webhook for `seconds` (and at most 20 rounds a second). */
async function measure(healthUrl: string, hookUrl: string, seconds: number): Promise<Checks> {
  const checks: Checks = { health: [], hook: [] };
  const end = Date.now() + seconds * 1000;
  for (let round = 0; round < seconds * 20 && Date.now() < end; round++) {
    checks.health.push(await timedRequest(healthUrl, 'GET'));
    checks.hook.push(await webhook(hookUrl));
    await new Promise((r) => setTimeout(r, 50));
  }
  return checks;
}

const answered = (ms: Array<number | null>) => ms.filter((m): m is number => m !== null);
const p99 = (ms: Array<number | null>) => {
  const ok = answered(ms);
  return ok.length ? +percentile(ok, 99).toFixed(1) : null;
};

export async function slowlorisScenario(database: 'sqlite' | 'postgres', seconds: number, sockets: number, addresses: number): Promise<Result[]> {
  const root = process.env.BENCH_GATEWAY_ROOT;
  const script = root ? pathToFileURL(resolve(root, 'bench/ingress-server.ts')) : new URL('./ingress-server.ts', import.meta.url);
  const gateway = await startBenchProcess(script, ['gateway', database]);
  try {
    const hookUrl = gateway.url;
    const healthUrl = new URL('/health', hookUrl).toString();
    const quiet = await measure(healthUrl, hookUrl, Math.min(2, seconds));
    const attacker = await startBenchProcess(new URL('./slowloris-attacker.ts', import.meta.url), [
      hookUrl,
      String(sockets),
      String(addresses),
      String(seconds + 30),
    ]);
    let attacked: Checks;
    let counts: { opened: number; refused: number; cut: number };
    try {
      await new Promise((r) => setTimeout(r, 1000)); // the attack takes hold
      attacked = await measure(healthUrl, hookUrl, seconds);
      counts = JSON.parse(await attacker.ask());
    } finally {
      await attacker.stop();
    }
    const from = addresses === 1 ? 'one address' : `${addresses} addresses`;
    const row = (name: string, during: Array<number | null>, before: Array<number | null>): Result => {
      const value = p99(during);
      const floor = p99(before);
      const refused = during.length - answered(during).length;
      const share = (100 * refused) / during.length;
      return {
        scenario: `slowloris from ${from}`,
        database,
        figure:
          `${name} p99 while ${sockets} sockets trickle headers: ${share.toFixed(1)} % of ${during.length} refused or unanswered in 2 s ` +
          `(unattacked p99 ${floor} ms; the attacker's connections: ${counts.opened} opened, ${counts.refused} closed unanswered, ${counts.cut} answered 408 or 503)`,
        value,
        unit: 'ms',
        floor,
        ratio: value && floor ? +(floor / value).toFixed(2) : null,
        target: 'none refused, p99 < 1 s',
        pass: refused === 0 && value !== null && value < 1000,
      };
    };
    return [row('GET /health', attacked.health, quiet.health), row('webhook', attacked.hook, quiet.hook)];
  } finally {
    await gateway.stop();
  }
}
