import type { IncomingHttpHeaders } from 'node:http';
import { OutboundError, retryAfterOf, type Outbound, type OutboundAnswer, type OutboundRequest } from '../network/outbound.js';
import type { NetworkPolicy } from '../network/ssrf-guard.js';

/**
 * Provider calls with Freshworks request-method semantics, on top of the one outbound module: up
 * to `maxAttempts` tries, retrying network errors, timeouts, 429 and 5xx after `retryDelayMs` (or
 * the provider's Retry-After, when it is not too long) — or fewer, by the call's `retry` policy (token
 * requests). A 4xx other than 429 fails at once. Errors
 * say whether the provider answered (`APP`) or the call never got an answer (`PLATFORM`).
 *
 * `hooks` run around every attempt — auth (a fresh token, an OAuth 1.0a signature of the exact URL
 * of this attempt) and rate budgets plug in here, so retries and later pages are covered too.
 */
export type ProviderRequest = OutboundRequest;

export interface ProviderResult {
  status: number;
  headers: IncomingHttpHeaders;
  response: string;
  attempts: number;
  durationMs: number;
}

export interface AttemptHooks {
  /** Before each attempt: may wait, and returns the request to send (e.g. with credentials added). */
  beforeSend?(request: ProviderRequest, attempt: number): Promise<ProviderRequest> | ProviderRequest;
  /**
   * After each answer (any status): `'retry'` asks for one immediate extra attempt, granted once
   * per call (a 401 after which the token was refreshed).
   */
  afterAnswer?(answer: OutboundAnswer, request: ProviderRequest, attempt: number): Promise<'retry' | void> | 'retry' | void;
}

/**
 * Which failed attempts are sent again (up to `maxAttempts`):
 * - `any` (the default): network errors, timeouts, 429 and 5xx;
 * - `unsent`: only an attempt that never reached the provider (no connection was made) — for a
 *   request that spends something single-use, such as an OAuth authorization code: once it may
 *   have arrived, sending it again may be refused as a replay, or revoke the grant;
 * - `unissued`: also an answer of the provider's own that says it issued nothing (429, and 5xx
 *   other than 502 and 504, which a gateway in front of it answers while it may still have done
 *   the work) — for a token refresh: the refresh token stays valid until a new one is issued.
 */
export type RetryPolicy = 'any' | 'unsent' | 'unissued';

export interface SendOptions {
  /** The gateway's outbound module (its keep-alive pools). */
  outbound: Outbound;
  maxAttempts: number;
  retry?: RetryPolicy;
  retryDelayMs: number;
  timeoutMs: number;
  policy: NetworkPolicy;
  sleep?: (ms: number) => Promise<void>;
  /** A Retry-After longer than this stops the retries and is reported instead (default 60 s). */
  maxRetryAfterMs?: number;
  /** An answer larger than this fails the call without being read whole (default 50 MB). */
  maxResponseBytes?: number;
  hooks?: AttemptHooks[];
}

export const DEFAULT_MAX_RESPONSE_BYTES = 50 * 1024 * 1024;

export class ProviderError extends Error {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly response: string;
  readonly errorSource: 'APP' | 'PLATFORM';
  readonly attempts: number;
  readonly retryAfterSeconds?: number;
  readonly code?: string;

  constructor(o: {
    message: string;
    status?: number;
    headers?: IncomingHttpHeaders;
    response?: string;
    errorSource: 'APP' | 'PLATFORM';
    attempts: number;
    retryAfterSeconds?: number;
    code?: string;
  }) {
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

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
const retryable = (status: number, policy: RetryPolicy) =>
  policy === 'any' ? status === 429 || status >= 500 : policy === 'unissued' && (status === 429 || (status >= 500 && status !== 502 && status !== 504));

export async function sendProviderRequest(original: ProviderRequest, o: SendOptions): Promise<ProviderResult> {
  const sleep = o.sleep ?? realSleep;
  const maxRetryAfterMs = o.maxRetryAfterMs ?? 60_000;
  const hooks = o.hooks ?? [];
  const retryPolicy = o.retry ?? 'any';
  const started = Date.now();
  let extraAttemptUsed = false;
  for (let attempt = 1; ; attempt++) {
    let delay = o.retryDelayMs;
    let request = original;
    for (const hook of hooks) if (hook.beforeSend) request = await hook.beforeSend(request, attempt);
    let answer: OutboundAnswer;
    try {
      answer = await o.outbound.sendOnce(request, {
        timeoutMs: o.timeoutMs,
        policy: o.policy,
        maxResponseBytes: o.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
        pool: 'provider',
        label: 'provider URL',
      });
    } catch (err) {
      if (!(err instanceof OutboundError)) throw err;
      // A refused destination or an oversized answer will not change on a retry.
      const mustNotResend = retryPolicy !== 'any' && err.mayHaveArrived && attempt < o.maxAttempts;
      if (err.failure === 'blocked' || err.failure === 'too-large' || mustNotResend || attempt >= o.maxAttempts) {
        const reason = err.failure === 'blocked' || err.failure === 'too-large' ? err.message : `the provider could not be reached: ${err.message}`;
        throw new ProviderError({
          message: mustNotResend ? `${reason} (not sent again: the request may have arrived)` : reason,
          status: err.answered?.status,
          headers: err.answered?.headers,
          errorSource: err.failure === 'too-large' ? 'APP' : 'PLATFORM',
          attempts: err.failure === 'blocked' && attempt === 1 ? 0 : attempt,
          code: err.code,
        });
      }
      await sleep(delay);
      continue;
    }
    let again = false;
    for (const hook of hooks) if (hook.afterAnswer && (await hook.afterAnswer(answer, request, attempt)) === 'retry') again = true;
    if (again && !extraAttemptUsed) {
      extraAttemptUsed = true;
      attempt--;
      continue;
    }
    if (answer.status < 400)
      return { status: answer.status, headers: answer.headers, response: answer.body, attempts: attempt, durationMs: Date.now() - started };
    const retryAfter = retryAfterOf(answer.status, answer.headers);
    const tooLong = retryAfter !== undefined && retryAfter * 1000 > maxRetryAfterMs;
    if (!retryable(answer.status, retryPolicy) || attempt >= o.maxAttempts || tooLong) {
      throw new ProviderError({
        message: `the provider answered HTTP ${answer.status}`,
        status: answer.status,
        headers: answer.headers,
        response: answer.body,
        errorSource: 'APP',
        attempts: attempt,
        retryAfterSeconds: retryAfter,
      });
    }
    if (retryAfter !== undefined) delay = retryAfter * 1000;
    await sleep(delay);
  }
}
