import http from 'node:http';
import https from 'node:https';
import got, { RequestError } from 'got';
import { checkUrlSyntax, createGuardedLookup, type NetworkPolicy } from '../network/ssrf-guard.js';

/**
 * The one place pollgate calls providers, with Freshworks request-method semantics: up to
 * `maxAttempts` tries, retrying network errors, timeouts, 429 and 5xx after `retryDelayMs` (or the
 * provider's Retry-After, when it is not too long). A 4xx other than 429 fails at once. Errors say
 * whether the provider answered (`APP`) or the call never got an answer (`PLATFORM`).
 */
export interface ProviderRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  json?: unknown;
}

export interface ProviderResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  response: string;
  attempts: number;
  durationMs: number;
}

export interface SendOptions {
  maxAttempts: number;
  retryDelayMs: number;
  timeoutMs: number;
  policy: NetworkPolicy;
  sleep?: (ms: number) => Promise<void>;
  /** A Retry-After longer than this stops the retries and is reported instead (default 60 s). */
  maxRetryAfterMs?: number;
}

export class ProviderError extends Error {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly response: string;
  readonly errorSource: 'APP' | 'PLATFORM';
  readonly attempts: number;
  readonly retryAfterSeconds?: number;
  readonly code?: string;

  constructor(o: { message: string; status?: number; headers?: Record<string, string | string[] | undefined>; response?: string; errorSource: 'APP' | 'PLATFORM'; attempts: number; retryAfterSeconds?: number; code?: string }) {
    super(o.message);
    this.name = 'ProviderError';
    this.status = o.status ?? 0;
    this.headers = o.headers ?? {};
    this.response = o.response ?? '';
    this.errorSource = o.errorSource;
    this.attempts = o.attempts;
    this.retryAfterSeconds = o.retryAfterSeconds;
    this.code = o.code;
  }
}

// Keep-alive agents shared by every provider call: polling makes many requests to few hosts.
const agent = { http: new http.Agent({ keepAlive: true, maxSockets: 64 }), https: new https.Agent({ keepAlive: true, maxSockets: 64 }) };
const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** Retry-After as seconds (a number of seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Number(v);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - now) / 1000);
}

const retryable = (status: number) => status === 429 || status >= 500;

export async function sendProviderRequest(req: ProviderRequest, o: SendOptions): Promise<ProviderResult> {
  const sleep = o.sleep ?? realSleep;
  const maxRetryAfterMs = o.maxRetryAfterMs ?? 60_000;
  const started = Date.now();
  const lookup = createGuardedLookup(o.policy);
  // An IP-literal host never goes through the guarded DNS lookup: apply the policy to the URL too.
  try {
    checkUrlSyntax(req.url, o.policy, 'provider URL');
  } catch (err) {
    throw new ProviderError({ message: `the request was blocked: ${(err as Error).message}`, errorSource: 'PLATFORM', attempts: 0, code: 'BLOCKED' });
  }
  for (let attempt = 1; ; attempt++) {
    let delay = o.retryDelayMs;
    try {
      const res = await got(req.url, {
        method: req.method as 'GET',
        headers: req.headers,
        body: req.body,
        json: req.json,
        throwHttpErrors: false,
        followRedirect: false,
        retry: { limit: 0 },
        timeout: { request: o.timeoutMs },
        dnsLookup: lookup as never,
        agent,
        decompress: true,
      });
      const result: ProviderResult = { status: res.statusCode, headers: res.headers, response: res.body, attempts: attempt, durationMs: Date.now() - started };
      if (res.statusCode < 400) return result;
      const retryAfter = res.statusCode === 429 || res.statusCode === 503 ? parseRetryAfter(res.headers['retry-after']) : undefined;
      const tooLong = retryAfter !== undefined && retryAfter * 1000 > maxRetryAfterMs;
      if (!retryable(res.statusCode) || attempt >= o.maxAttempts || tooLong) {
        throw new ProviderError({
          message: `the provider answered HTTP ${res.statusCode}`, status: res.statusCode, headers: res.headers, response: res.body,
          errorSource: 'APP', attempts: attempt, retryAfterSeconds: retryAfter,
        });
      }
      if (retryAfter !== undefined) delay = retryAfter * 1000;
    } catch (err) {
      if (err instanceof ProviderError) throw err;
      const e = err as RequestError;
      const code = (e.cause as { code?: string } | undefined)?.code === 'BLOCKED' || e.message.includes('BlockedAddressError') ? 'BLOCKED' : e.code;
      const blocked = code === 'BLOCKED' || (e.cause as Error | undefined)?.name === 'BlockedAddressError';
      if (blocked || attempt >= o.maxAttempts) {
        throw new ProviderError({
          message: blocked ? `the request was blocked: ${(e.cause as Error | undefined)?.message ?? e.message}` : `the provider could not be reached: ${e.message}`,
          errorSource: 'PLATFORM', attempts: attempt, code: blocked ? 'BLOCKED' : code,
        });
      }
    }
    await sleep(delay);
  }
}
