import type { IncomingHttpHeaders } from 'node:http';
import type { CheckContext } from './context.js';
import type { Instance } from '../instances/store.js';
import type { CallOptions, ProviderTarget } from '../provider/calls.js';
import { ProviderError, type ProviderRequest, type ProviderResult } from '../provider/http-client.js';
import { RateBudgetWait } from '../provider/rate-budget.js';
import { isSecretKey, redactText } from '../secrets/redact.js';

/**
 * The provider calls of one instance check, through the one provider call path (auth, rate
 * budget, SSRF guard): it remembers the first answer (the credentials line is read from it) and
 * the headers of the last one (the rate-limit line), and once the provider has refused the
 * credentials it sends nothing more — every further request would only be refused again.
 */
export type CheckStatus = 'ok' | 'warning' | 'failed';

export interface CheckLine {
  name: string;
  status: CheckStatus;
  /** What was found, in words, with the provider's answer where there is one (secrets redacted). */
  detail: string;
  /** The same facts for scripts. */
  details?: Record<string, unknown>;
}

/** A request the check did not send, because the credentials were refused already. */
export class NotChecked extends Error {}

/** One provider answer (or failure) as the check reports it. */
export type Outcome = { result: ProviderResult; request: ProviderRequest } | { error: unknown; request: ProviderRequest };

/** Check calls try twice at most: a check reports what the provider answers, it does not wait it out. */
const CHECK_CALL: CallOptions = { maxAttempts: 2, retryDelayMs: 500, timeoutMs: 10_000 };
const ANSWER_CHARS = 300;

export class CheckProbe {
  first: Outcome | undefined;
  lastHeaders: IncomingHttpHeaders | undefined;
  private readonly secrets: string[];

  constructor(
    private readonly ctx: CheckContext,
    instance: Instance,
  ) {
    const secretKeys = ctx.secretsOf(instance.elementKey);
    const values = Object.entries(instance.configuration)
      .filter(([key, value]) => isSecretKey(key, secretKeys) && typeof value === 'string')
      .map(([, value]) => value as string);
    this.secrets = [...new Set([...values, ...values.map(encodeURIComponent)])];
  }

  /** The provider refused the credentials (or the instance has none usable): nothing more is sent. */
  get refused(): boolean {
    return this.first !== undefined && 'error' in this.first && credentialsRefused(this.first.error);
  }

  async send(target: ProviderTarget, request: ProviderRequest, options: CallOptions = CHECK_CALL): Promise<ProviderResult> {
    if (this.refused) throw new NotChecked('not checked: the provider refused the credentials');
    try {
      const result = await this.ctx.providerCalls.send(target, request, options);
      this.first ??= { result, request };
      this.lastHeaders = result.headers;
      return result;
    } catch (error) {
      this.first ??= { error, request };
      if (error instanceof ProviderError && error.status > 0) this.lastHeaders = error.headers;
      throw error;
    }
  }

  redact(text: string): string {
    return redactText(text, this.secrets);
  }

  /** The provider's answer in a line: its status and the start of its body, secrets redacted. */
  describe(err: unknown): { text: string; details: Record<string, unknown> } {
    if (err instanceof RateBudgetWait)
      return { text: `waits for the provider's rate budget: ${err.message}`, details: { retryAfterSeconds: err.retryAfterSeconds } };
    if (err instanceof ProviderError) {
      const response = this.redact(err.response).slice(0, ANSWER_CHARS);
      if (err.status > 0 && err.errorSource === 'APP')
        return { text: `the provider answered HTTP ${err.status}${response ? `: ${response}` : ''}`, details: { status: err.status, response } };
      return { text: this.redact(err.message), details: { errorSource: err.errorSource, ...(err.code ? { code: err.code } : {}) } };
    }
    return { text: this.redact(err instanceof Error ? err.message : String(err)), details: {} };
  }

  /** The credentials line, read from the first request's answer. */
  credentialsLine(): CheckLine {
    const first = this.first;
    const name = 'credentials';
    if (!first) return { name, status: 'warning', detail: 'not verified: no request was sent to the provider' };
    const what = `${first.request.method} ${this.redact(pathOf(first.request.url))}`;
    if ('result' in first) return { name, status: 'ok', detail: `accepted: HTTP ${first.result.status} to ${what}`, details: { status: first.result.status } };
    const { text, details } = this.describe(first.error);
    if (credentialsRefused(first.error)) return { name, status: 'failed', detail: `refused: ${text}`, details };
    // Answered otherwise (404, 422…): the provider took the credentials and refused something else.
    if (first.error instanceof ProviderError && first.error.errorSource === 'APP' && first.error.status > 0 && first.error.status < 500)
      return { name, status: 'ok', detail: `accepted: HTTP ${first.error.status} to ${what} (not an auth refusal)`, details };
    return { name, status: 'warning', detail: `not verified: ${text}`, details };
  }
}

/** 401/403, or the gateway's own refusal to call (no OAuth tokens, a refused grant). */
function credentialsRefused(err: unknown): boolean {
  if (err instanceof ProviderError) return (err.errorSource === 'APP' && (err.status === 401 || err.status === 403)) || err.code === 'AUTH_FAILED';
  // Not a provider answer: the credentials could not even be used (tokens that do not decrypt).
  return !(err instanceof NotChecked) && !(err instanceof Error && err.name === 'DefinitionError');
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

export const worst = (lines: CheckLine[]): CheckStatus =>
  lines.some((l) => l.status === 'failed') ? 'failed' : lines.some((l) => l.status === 'warning') ? 'warning' : 'ok';
