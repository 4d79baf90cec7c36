import type http from 'node:http';
import type { createGuardedLookup, NetworkPolicy } from '../network/ssrf-guard.js';
import { OutboundError, retryAfterOf, type Outbound, type OutboundFailure } from '../network/outbound.js';
import { isBodiless, type CallbackRequest } from './build.js';
import { firstMatch } from '../lib/json-path.js';

/**
 * One HTTP try of a callback request through the outbound module, never thrown: the answer or the
 * reason it failed, ready to be recorded as an attempt. No retries (the dispatcher schedules them)
 * and at most `READ_LIMIT_BYTES` of the answer read (a receiver cannot make the gateway buffer an
 * unbounded body; `delivery.maxResponseBodyBytes` of it is kept).
 */
export interface AttemptResult {
  status: number | null;
  durationMs: number;
  responseBody: string;
  error: string | null;
  /** Why no answer came (timeout, refused or unreachable, blocked by the SSRF guard), or why it was cut. */
  failure?: OutboundFailure;
  retryAfterSeconds?: number;
  /** The answer parsed, when it is JSON (for `responseMapping`). */
  json?: unknown;
}

export interface SendOptions {
  /** The gateway's outbound module: sends to one callback origin share its keep-alive pool. */
  outbound: Outbound;
  timeoutMs: number;
  policy: NetworkPolicy;
  dnsLookup: ReturnType<typeof createGuardedLookup>;
  /** The gateway clock (for Retry-After given as an HTTP date). */
  now: number;
}

const READ_LIMIT_BYTES = 1024 * 1024;

export const isSuccess = (status: number | null): boolean => status !== null && status >= 200 && status < 400;

export async function sendCallback(request: CallbackRequest, o: SendOptions): Promise<AttemptResult> {
  const started = performance.now();
  try {
    // GET and DELETE callbacks carry no body (got refuses a body on GET).
    const sent = isBodiless(request.method) ? { ...request, body: undefined } : request;
    const res = await o.outbound.sendOnce(sent, {
      timeoutMs: o.timeoutMs,
      policy: o.policy,
      dnsLookup: o.dnsLookup,
      maxResponseBytes: READ_LIMIT_BYTES,
      pool: 'callback',
      label: 'callback URL',
    });
    return answer(res.status, res.headers, res.body, res.durationMs, o.now);
  } catch (err) {
    const durationMs = performance.now() - started;
    if (!(err instanceof OutboundError)) throw err;
    // Cut for its size: the status counts, the body is not kept.
    if (err.answered) return { ...answer(err.answered.status, err.answered.headers, '', durationMs, o.now, err.message), failure: err.failure };
    return { status: null, durationMs, responseBody: '', error: err.message, failure: err.failure };
  }
}

function answer(status: number, headers: http.IncomingHttpHeaders, body: string, durationMs: number, now: number, note?: string): AttemptResult {
  let json: unknown;
  if (body && /json/i.test(String(headers['content-type'] ?? ''))) {
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
  }
  return {
    status,
    durationMs,
    responseBody: body,
    json,
    error: isSuccess(status) ? (note ?? null) : `the callback answered HTTP ${status}${note ? ` (${note})` : ''}`,
    retryAfterSeconds: retryAfterOf(status, headers, now),
  };
}

/** `responseMapping`: named values picked from the receiver's JSON answer (JSONPath), null when absent. */
export function mapResponse(mapping: Record<string, string>, json: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, path] of Object.entries(mapping)) {
    if (json && typeof json === 'object') out[name] = firstMatch(json, path) ?? null;
  }
  return out;
}

/** At most `max` bytes of UTF-8, never ending in half a character. */
export function truncateBytes(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  return Buffer.from(text)
    .subarray(0, max)
    .toString('utf8')
    .replace(/\uFFFD+$/, '');
}
