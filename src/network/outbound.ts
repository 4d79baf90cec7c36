import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import got, { type Method } from 'got';
import { checkUrlSyntax, createGuardedLookup, type NetworkPolicy } from './ssrf-guard.js';

/**
 * The one module that sends HTTP requests out of the gateway (provider calls, token endpoints,
 * callbacks). One attempt at a time: the SSRF guard on the URL and on every resolved address, no
 * redirects followed, a timeout, keep-alive agents, and a cap on the answer's size — the answer is
 * streamed and the request aborted once it passes the cap, so a huge answer is never buffered.
 * Retry policies live with their callers (provider/http-client.ts, the delivery dispatcher); the
 * Retry-After parsing they share is here.
 */
export interface OutboundRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

export interface OutboundAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  durationMs: number;
}

export type OutboundFailure = 'blocked' | 'timeout' | 'unreachable' | 'too-large';

/**
 * An attempt that got no usable answer. `too-large` keeps the status and headers that did arrive.
 * `mayHaveArrived` is false only when no connection to the peer was ever made (blocked, DNS
 * failure, connection refused, a timeout while connecting): then the request certainly was not
 * received, and even a request that spends something single-use may be sent again.
 */
export class OutboundError extends Error {
  constructor(
    readonly failure: OutboundFailure,
    message: string,
    readonly code?: string,
    readonly answered?: { status: number; headers: http.IncomingHttpHeaders },
    readonly mayHaveArrived = true,
  ) {
    super(message);
    this.name = 'OutboundError';
  }
}

export interface OutboundOptions {
  timeoutMs: number;
  policy: NetworkPolicy;
  /** The answer is aborted once it passes this many bytes. */
  maxResponseBytes: number;
  /** Which keep-alive pool: providers are few hosts with many requests, receivers may be many. */
  pool: 'provider' | 'callback';
  /** What the URL is, for error messages ("provider URL", "callback URL"). */
  label: string;
  /** A guarded DNS lookup to use instead of the default one made from `policy` (tests inject a resolver). */
  dnsLookup?: ReturnType<typeof createGuardedLookup>;
}

const AGENTS = {
  provider: { http: new http.Agent({ keepAlive: true, maxSockets: 64 }), https: new https.Agent({ keepAlive: true, maxSockets: 64 }) },
  callback: { http: new http.Agent({ keepAlive: true, maxSockets: 256 }), https: new https.Agent({ keepAlive: true, maxSockets: 256 }) },
};

// One guarded lookup per policy object (settings are fixed for a gateway's life).
const lookups = new WeakMap<NetworkPolicy, ReturnType<typeof createGuardedLookup>>();
function lookupFor(policy: NetworkPolicy) {
  let lookup = lookups.get(policy);
  if (!lookup) lookups.set(policy, (lookup = createGuardedLookup(policy)));
  return lookup;
}

/**
 * got clients with the fixed options already merged (per lookup, pool and timeout): got merges and
 * validates every option it is given on each request, so a request passes only what varies.
 */
type Client = typeof got;
const clients = new WeakMap<ReturnType<typeof createGuardedLookup>, Map<string, Client>>();
function clientFor(lookup: ReturnType<typeof createGuardedLookup>, pool: OutboundOptions['pool'], timeoutMs: number): Client {
  let byKey = clients.get(lookup);
  if (!byKey) clients.set(lookup, (byKey = new Map()));
  const key = `${pool} ${timeoutMs}`;
  let client = byKey.get(key);
  if (!client) {
    client = got.extend({
      throwHttpErrors: false,
      followRedirect: false,
      retry: { limit: 0 },
      timeout: { request: timeoutMs },
      dnsLookup: lookup as never,
      agent: AGENTS[pool],
      decompress: true,
    });
    byKey.set(key, client);
  }
  return client;
}

/**
 * URLs that passed the syntax check, by the policy's flags (not the policy object: tests change its
 * flags in place). The check is a pure function of these, so a cached pass is the same answer; the
 * resolved addresses are still checked by the guarded lookup on every new connection.
 */
const checkedUrls = new Map<string, true>();
function checkUrlOnce(url: string, policy: NetworkPolicy, label: string): void {
  const key = `${policy.allowLoopback ? 1 : 0}${policy.allowPrivate ? 1 : 0} ${url}`;
  if (checkedUrls.has(key)) return;
  checkUrlSyntax(url, policy, label);
  if (checkedUrls.size >= 10_000) checkedUrls.clear();
  checkedUrls.set(key, true);
}

export async function sendOnce(request: OutboundRequest, o: OutboundOptions): Promise<OutboundAnswer> {
  const started = performance.now();
  try {
    // Literal addresses skip DNS, so the URL is checked here too; names are checked on lookup.
    checkUrlOnce(request.url, o.policy, o.label);
  } catch (err) {
    throw new OutboundError('blocked', `the request was blocked: ${(err as Error).message}`, 'BLOCKED', undefined, false);
  }
  let answered: http.IncomingMessage | undefined;
  // Set once a socket is connected (a reused keep-alive socket already is): from then on bytes of
  // the request may have reached the peer.
  let connected = false;
  const client = clientFor(o.dnsLookup ?? lookupFor(o.policy), o.pool, o.timeoutMs);
  const pending = client(request.url, { method: request.method as Method, headers: request.headers, body: request.body });
  // The status and headers as they arrive (got's own 'response' event waits for the whole body).
  pending.on('request', (req: http.ClientRequest) => {
    const watch = (socket: Socket) => {
      if (!socket.connecting) connected = true;
      else socket.once('connect', () => void (connected = true));
    };
    if (req.socket) watch(req.socket);
    else req.once('socket', watch);
    req.once('response', (res: http.IncomingMessage) => {
      answered = res;
      if (Number(res.headers['content-length']) > o.maxResponseBytes) pending.cancel();
    });
  });
  pending.on('downloadProgress', (p: { transferred: number }) => {
    if (p.transferred > o.maxResponseBytes) pending.cancel();
  });
  try {
    const res = await pending;
    return { status: res.statusCode, headers: res.headers, body: res.body, durationMs: performance.now() - started };
  } catch (err) {
    const e = err as Error & { code?: string; cause?: Error & { code?: string } };
    if (answered && e.name === 'CancelError') {
      throw new OutboundError('too-large', `the answer exceeded ${o.maxResponseBytes} bytes and was not read`, 'TOO_LARGE', {
        status: answered.statusCode ?? 0,
        headers: answered.headers,
      });
    }
    if (e.cause?.name === 'BlockedAddressError' || e.message.includes('BlockedAddressError')) {
      throw new OutboundError('blocked', `the request was blocked: ${e.cause?.message ?? e.message}`, 'BLOCKED', undefined, false);
    }
    if (e.name === 'TimeoutError' || e.code === 'ETIMEDOUT')
      throw new OutboundError('timeout', `timed out after ${o.timeoutMs / 1000} s`, 'ETIMEDOUT', undefined, connected);
    throw new OutboundError('unreachable', `${e.code ?? e.name}: ${e.cause?.message ?? e.message}`, e.code, undefined, connected);
  }
}

/** Retry-After as seconds (a number of seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Number(v);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - now) / 1000);
}

/** The Retry-After of an answer that asks the client to slow down (429, 503), else undefined. */
export const retryAfterOf = (status: number, headers: http.IncomingHttpHeaders, now = Date.now()): number | undefined =>
  status === 429 || status === 503 ? parseRetryAfter(headers['retry-after'], now) : undefined;
