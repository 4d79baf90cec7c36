import http from 'node:http';
import https from 'node:https';
import got from 'got';
import { checkUrlSyntax, type createGuardedLookup, type NetworkPolicy } from '../network/ssrf-guard.js';
import { parseRetryAfter } from '../provider/http-client.js';
import type { CallbackRequest } from './build.js';

/**
 * One HTTP try of a callback request, never thrown: the answer or the reason it failed, ready to
 * be recorded as an attempt. No retries (the dispatcher schedules them), no redirects followed,
 * the SSRF guard applied to the URL and to every resolved address, and at most `READ_LIMIT_BYTES`
 * of the answer read (a receiver cannot make the gateway buffer an unbounded body).
 */
export interface AttemptResult {
  status: number | null;
  durationMs: number;
  responseBody: string;
  error: string | null;
  retryAfterSeconds?: number;
  /** The answer parsed, when it is JSON (for `responseMapping`). */
  json?: unknown;
}

export interface SendOptions {
  timeoutMs: number;
  policy: NetworkPolicy;
  dnsLookup: ReturnType<typeof createGuardedLookup>;
  /** The gateway clock (for Retry-After given as an HTTP date). */
  now: number;
}

const READ_LIMIT_BYTES = 1024 * 1024;

// Keep-alive connections: receivers get many callbacks in a row.
const CALLBACK_AGENTS = { http: new http.Agent({ keepAlive: true, maxSockets: 256 }), https: new https.Agent({ keepAlive: true, maxSockets: 256 }) };

export const isSuccess = (status: number | null): boolean => status !== null && status >= 200 && status < 400;

export async function sendCallback(request: CallbackRequest, o: SendOptions): Promise<AttemptResult> {
  const started = performance.now();
  let answered: http.IncomingMessage | undefined;
  try {
    // Literal addresses skip DNS, so the URL is checked here too; names are checked on lookup.
    checkUrlSyntax(request.url, o.policy, 'callback URL');
    const pending = got(request.url, {
      method: request.method as 'POST',
      headers: request.headers,
      body: request.body,
      throwHttpErrors: false,
      followRedirect: false,
      retry: { limit: 0 },
      timeout: { request: o.timeoutMs },
      dnsLookup: o.dnsLookup as never,
      agent: CALLBACK_AGENTS,
    });
    // The status and headers as they arrive (got's own 'response' event waits for the whole body).
    pending.on('request', (req: http.ClientRequest) => req.once('response', (res: http.IncomingMessage) => (answered = res)));
    pending.on('downloadProgress', (p: { transferred: number }) => {
      if (p.transferred > READ_LIMIT_BYTES) pending.cancel();
    });
    const res = await pending;
    return answer(res.statusCode, res.headers, res.body, performance.now() - started, o.now);
  } catch (err) {
    const durationMs = performance.now() - started;
    // Cancelled for its size: the status counts, the body is not kept.
    if (answered && (err as Error).name === 'CancelError') return answer(answered.statusCode ?? 0, answered.headers, '', durationMs, o.now, `the answer exceeded ${READ_LIMIT_BYTES} bytes and was not read`);
    const e = err as Error & { code?: string };
    const reason = e.name === 'TimeoutError' || e.code === 'ETIMEDOUT' ? `timed out after ${o.timeoutMs / 1000} s` : `${e.code ?? e.name}: ${(e.cause as Error | undefined)?.message ?? e.message}`;
    return { status: null, durationMs, responseBody: '', error: reason };
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
    status, durationMs, responseBody: body, json,
    error: isSuccess(status) ? (note ?? null) : `the callback answered HTTP ${status}${note ? ` (${note})` : ''}`,
    retryAfterSeconds: status === 429 || status === 503 ? parseRetryAfter(headers['retry-after'], now) : undefined,
  };
}
