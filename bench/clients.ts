import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import got from 'got';
import { Agent as UndiciAgent } from 'undici';
import { createGuardedLookup } from '../src/network/ssrf-guard.js';
import { Outbound } from '../src/network/outbound.js';
import { startBenchProcess, timed, type Result } from './lib.js';

/**
 * The outbound client, measured before choosing it: the same POSTs (a 1 KB JSON body, keep-alive,
 * 16 in flight) to a bare node:http receiver in another process, sent by three engines at equal
 * behaviour — the SSRF guard's DNS lookup at connect, a whole-request timeout, the answer read up
 * to a cap and cut past it, no redirects, gzip answers decoded — and by the outbound module itself
 * (src/network/outbound.ts, whatever engine it runs on). Figures: CPU per request (this process,
 * all threads) and requests/s. The engines take turns, three rounds, and each figure is the
 * median of its rounds.
 */
const TIMEOUT_MS = 10_000;
const CAP = 1024 * 1024;
const CONCURRENCY = 16;
const policy = { allowLoopback: true, allowPrivate: false };
const lookup = createGuardedLookup(policy);

type Send = (url: string, body: string) => Promise<number>;

function gotEngine(): Send {
  const agent = { http: new http.Agent({ keepAlive: true, maxSockets: 256 }), https: new https.Agent({ keepAlive: true, maxSockets: 256 }) };
  const client = got.extend({
    throwHttpErrors: false,
    followRedirect: false,
    retry: { limit: 0 },
    timeout: { request: TIMEOUT_MS },
    dnsLookup: lookup as never,
    agent,
    decompress: true,
  });
  return async (url, body) => {
    const pending = client(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    pending.on('downloadProgress', (p: { transferred: number }) => {
      if (p.transferred > CAP) pending.cancel();
    });
    return (await pending).statusCode;
  };
}

function undiciEngine(): Send {
  const dispatcher = new UndiciAgent({
    connect: { lookup: lookup as never },
    connections: 256,
    maxResponseSize: CAP,
    headersTimeout: TIMEOUT_MS,
    bodyTimeout: TIMEOUT_MS,
  });
  return async (url, body) => {
    const signal = AbortSignal.timeout(TIMEOUT_MS);
    const res = await dispatcher.request({
      origin: new URL(url).origin,
      path: new URL(url).pathname,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal,
    });
    const encoding = res.headers['content-encoding'];
    const raw = Buffer.from(await res.body.arrayBuffer());
    if (encoding === 'gzip') zlib.gunzipSync(raw);
    return res.statusCode;
  };
}

function nodeHttpEngine(): Send {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  return (url, body) =>
    new Promise((resolve, reject) => {
      const req = http.request(url, {
        method: 'POST',
        agent,
        lookup: lookup as never,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      const timer = setTimeout(() => req.destroy(new Error('timeout')), TIMEOUT_MS);
      req.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.once('response', (res) => {
        const stream = res.headers['content-encoding'] === 'gzip' ? res.pipe(zlib.createGunzip()) : res;
        let size = 0;
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => {
          size += c.length;
          if (size > CAP) req.destroy(new Error('too large'));
          else chunks.push(c);
        });
        stream.once('end', () => {
          clearTimeout(timer);
          Buffer.concat(chunks).toString('utf8');
          resolve(res.statusCode ?? 0);
        });
      });
      req.end(body);
    });
}

function moduleEngine(): Send {
  const outbound = new Outbound();
  return async (url, body) =>
    (
      await outbound.sendOnce(
        { method: 'POST', url, headers: { 'content-type': 'application/json' }, body },
        { timeoutMs: TIMEOUT_MS, policy, maxResponseBytes: CAP, pool: 'callback', label: 'callback URL' },
      )
    ).status;
}

async function load(send: Send, url: string, requests: number): Promise<{ ms: number; cpuMicros: number }> {
  const body = JSON.stringify({
    events: Array.from({ length: 5 }, (_, i) => ({ eventType: 'UPDATED', objectType: 'contacts', objectId: String(i), pad: 'x'.repeat(120) })),
  });
  return timed(async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < requests) {
          const status = await send(url, body);
          if (status !== 200) throw new Error(`the receiver answered ${status}`);
        }
      }),
    );
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function clientsScenario(requests: number): Promise<Result[]> {
  const receiver = await startBenchProcess(new URL('./receiver-server.ts', import.meta.url), []);
  try {
    const engines: Array<[string, Send]> = [
      ['got (as the outbound module used it)', gotEngine()],
      ['undici', undiciEngine()],
      ['node:http, keep-alive agent', nodeHttpEngine()],
      ['the outbound module', moduleEngine()],
    ];
    // Warm-up: connections open, code compiled.
    for (const [, send] of engines) await load(send, receiver.url, 200);
    const runs = new Map<string, Array<{ ms: number; cpuMicros: number }>>(engines.map(([name]) => [name, []]));
    for (let round = 0; round < 3; round++) for (const [name, send] of engines) runs.get(name)!.push(await load(send, receiver.url, requests));
    const gotRate = median(runs.get(engines[0][0])!.map((r) => (requests / r.ms) * 1000));
    return engines.map(([name]) => {
      const r = runs.get(name)!;
      const rate = median(r.map((x) => (requests / x.ms) * 1000));
      const cpu = median(r.map((x) => x.cpuMicros / requests));
      return {
        scenario: 'outbound client',
        database: 'sqlite',
        figure: `${name}: req/s (CPU ${Math.round(cpu)} µs a request)`,
        value: Math.round(rate),
        unit: 'req/s',
        floor: Math.round(gotRate),
        ratio: +(rate / gotRate).toFixed(2),
        target: 'measured (floor: got)',
        pass: null,
      } satisfies Result;
    });
  } finally {
    await receiver.stop();
  }
}
