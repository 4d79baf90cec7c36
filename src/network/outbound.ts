import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { Agent, type Dispatcher } from 'undici';
import { checkUrlSyntax, createGuardedLookup, type NetworkPolicy } from './ssrf-guard.js';

/**
 * The one module that sends HTTP requests out of the gateway (provider calls, token endpoints,
 * callbacks). One attempt at a time: the SSRF guard on the URL and on every resolved address, no
 * redirects followed, a timeout, keep-alive pools, and a cap on the answer's size — the answer is
 * streamed and the request aborted once it passes the cap, so a huge answer is never buffered.
 * Retry policies live with their callers (provider/http-client.ts, the delivery dispatcher); the
 * Retry-After parsing they share is here.
 *
 * The engine is undici (Node's own HTTP client project): measured against got and node:http at
 * equal behaviour it spends about a fifth of got's CPU per request (docs/performance.md), and
 * its per-origin pools bound the sockets kept to each receiver.
 */
export interface OutboundRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

export interface OutboundAnswer {
  status: number;
  headers: IncomingHttpHeaders;
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
    readonly answered?: { status: number; headers: IncomingHttpHeaders },
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

/** Keep-alive sockets per origin, by pool (a callback origin's sends are also bounded by `delivery.maxConcurrencyPerOrigin`). */
export interface OutboundLimits {
  provider: number;
  callback: number;
}

type GuardedLookup = ReturnType<typeof createGuardedLookup>;

/** Failures that happen before any byte of the request can have left: no connection was made. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
/** Encodings asked for and decoded (the cap counts decoded bytes, so a small bomb is cut too). */
const ACCEPT_ENCODING = 'gzip, deflate, br';
const DECODERS: Record<string, () => zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress> = {
  gzip: () => zlib.createGunzip(),
  'x-gzip': () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
};

/**
 * The outbound module's state, one per gateway: keep-alive pools (one undici Agent per guarded
 * lookup, pool and timeout; each keeps a pool per origin) and the URLs already checked. Nothing
 * is shared between gateways in one process (tests run several, with different network policies).
 */
export class Outbound {
  // One guarded lookup per policy, by its flags (tests change a policy's flags in place).
  private readonly lookups = new Map<string, GuardedLookup>();
  private readonly dispatchers = new WeakMap<GuardedLookup, Map<string, Dispatcher>>();
  private readonly agents: Agent[] = [];
  /**
   * URLs that passed the syntax check, by the policy's flags (not the policy object: tests change
   * its flags in place). The check is a pure function of these, so a cached pass is the same
   * answer; the resolved addresses are still checked by the guarded lookup on every new connection.
   */
  private readonly checkedUrls = new Map<string, URL>();

  constructor(private readonly limits: OutboundLimits = { provider: 64, callback: 256 }) {}

  /** Closes the kept-alive sockets (the gateway stops). */
  async close(): Promise<void> {
    await Promise.all(this.agents.splice(0).map((a) => a.destroy().catch(() => undefined)));
  }

  private lookupFor(policy: NetworkPolicy): GuardedLookup {
    const key = flagsOf(policy);
    let lookup = this.lookups.get(key);
    if (!lookup) this.lookups.set(key, (lookup = createGuardedLookup({ allowLoopback: policy.allowLoopback, allowPrivate: policy.allowPrivate })));
    return lookup;
  }

  private dispatcherFor(lookup: GuardedLookup, pool: OutboundOptions['pool'], timeoutMs: number): Dispatcher {
    let byKey = this.dispatchers.get(lookup);
    if (!byKey) this.dispatchers.set(lookup, (byKey = new Map()));
    const key = `${pool} ${timeoutMs}`;
    let dispatcher = byKey.get(key);
    if (!dispatcher) {
      const agent = new Agent({
        connections: this.limits[pool],
        // The guarded lookup runs on every new connection: DNS cannot be used around the guard.
        connect: { lookup: lookup as never, timeout: timeoutMs },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      this.agents.push(agent);
      dispatcher = agent;
      byKey.set(key, dispatcher);
    }
    return dispatcher;
  }

  private checkUrlOnce(url: string, policy: NetworkPolicy, label: string): URL {
    const key = `${flagsOf(policy)} ${url}`;
    let parsed = this.checkedUrls.get(key);
    if (parsed) return parsed;
    parsed = checkUrlSyntax(url, policy, label);
    if (this.checkedUrls.size >= 10_000) this.checkedUrls.clear();
    this.checkedUrls.set(key, parsed);
    return parsed;
  }

  async sendOnce(request: OutboundRequest, o: OutboundOptions): Promise<OutboundAnswer> {
    const started = performance.now();
    let url: URL;
    try {
      // Literal addresses skip DNS, so the URL is checked here too; names are checked on lookup.
      url = this.checkUrlOnce(request.url, o.policy, o.label);
    } catch (err) {
      throw new OutboundError('blocked', `the request was blocked: ${(err as Error).message}`, 'BLOCKED', undefined, false);
    }
    const dispatcher = this.dispatcherFor(o.dnsLookup ?? this.lookupFor(o.policy), o.pool, o.timeoutMs);
    // One deadline for the whole attempt: connecting, the answer's headers and its body.
    const deadline = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      deadline.abort();
    }, o.timeoutMs);
    let answered: { status: number; headers: IncomingHttpHeaders } | undefined;
    try {
      const headers = headersToSend(request.headers);
      const res = await dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: request.method as Dispatcher.HttpMethod,
        headers,
        body:
          request.body === undefined || request.body === '' ? (request.method === 'GET' || request.method === 'HEAD' ? undefined : request.body) : request.body,
        signal: deadline.signal,
      });
      answered = { status: res.statusCode, headers: res.headers as IncomingHttpHeaders };
      const tooLarge = () => new OutboundError('too-large', `the answer exceeded ${o.maxResponseBytes} bytes and was not read`, 'TOO_LARGE', answered);
      if (Number(res.headers['content-length']) > o.maxResponseBytes) {
        res.body.destroy();
        throw tooLarge();
      }
      const encoding = String(res.headers['content-encoding'] ?? '').toLowerCase();
      const decoder = DECODERS[encoding]?.();
      const decoded: Readable = decoder ? res.body.pipe(decoder) : res.body;
      if (decoder) res.body.once('error', (err) => decoder.destroy(err));
      const chunks: Buffer[] = [];
      let size = 0;
      try {
        for await (const chunk of decoded as AsyncIterable<Buffer>) {
          size += chunk.length;
          if (size > o.maxResponseBytes) throw tooLarge();
          chunks.push(chunk);
        }
      } finally {
        if (size > o.maxResponseBytes || !decoded.readableEnded) {
          decoded.destroy();
          res.body.destroy();
        }
      }
      return { status: res.statusCode, headers: answered.headers, body: Buffer.concat(chunks, size).toString('utf8'), durationMs: performance.now() - started };
    } catch (err) {
      if (err instanceof OutboundError) throw err;
      throw failureOf(err as Error & { code?: string; cause?: Error & { code?: string } }, o, timedOut, answered !== undefined);
    } finally {
      clearTimeout(timer);
    }
  }
}

const flagsOf = (policy: NetworkPolicy): string => `${policy.allowLoopback ? 1 : 0}${policy.allowPrivate ? 1 : 0}`;

/**
 * Headers about the connection, not the request: the pool manages them (undici refuses a request
 * that sets them), so one configured by hand (a callback's extra headers) is left out.
 */
const CONNECTION_HEADERS = new Set(['connection', 'keep-alive', 'upgrade', 'transfer-encoding', 'expect', 'proxy-connection']);

/** The request's headers as sent: connection headers left out, compression asked for unless the caller chose. */
function headersToSend(headers: Record<string, string>): Record<string, string> {
  let out: Record<string, string> | undefined;
  let encoding = false;
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    if (lower === 'accept-encoding') encoding = true;
    else if (CONNECTION_HEADERS.has(lower)) {
      out ??= { ...headers };
      delete out[name];
    }
  }
  return encoding ? (out ?? headers) : { ...(out ?? headers), 'accept-encoding': ACCEPT_ENCODING };
}

/** What a thrown attempt was, as an OutboundError (whether the peer may have had the request included). */
function failureOf(e: Error & { code?: string; cause?: Error & { code?: string } }, o: OutboundOptions, timedOut: boolean, answered: boolean): OutboundError {
  const blocked = [e, e.cause].find((x) => x?.name === 'BlockedAddressError');
  if (blocked) return new OutboundError('blocked', `the request was blocked: ${blocked.message}`, 'BLOCKED', undefined, false);
  const code = e.code ?? e.cause?.code;
  if (timedOut || (code !== undefined && TIMEOUTS.has(code)))
    return new OutboundError('timeout', `timed out after ${o.timeoutMs / 1000} s`, 'ETIMEDOUT', undefined, answered || code !== 'UND_ERR_CONNECT_TIMEOUT');
  const connected = answered || code === undefined || !NOT_CONNECTED.has(code);
  return new OutboundError('unreachable', `${code ?? e.name}: ${e.cause?.message ?? e.message}`, code, undefined, connected);
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
export const retryAfterOf = (status: number, headers: IncomingHttpHeaders, now = Date.now()): number | undefined =>
  status === 429 || status === 503 ? parseRetryAfter(headers['retry-after'], now) : undefined;
