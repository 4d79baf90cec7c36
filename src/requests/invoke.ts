import { performance } from 'node:perf_hooks';
import type { RequestsContext } from './context.js';
import { RateLimiter } from '../api/rate-limit.js';
import { ApiError, NotFoundError, ValidationError } from '../errors.js';
import { buildTemplateRequest } from '../provider/request-builder.js';
import { ProviderError } from '../provider/http-client.js';
import { RateBudgetWait } from '../provider/rate-budget.js';
import { isSecretKey, redactText } from '../secrets/redact.js';
import { checkUrlSyntax, type NetworkPolicy } from '../network/ssrf-guard.js';
import type { Instance } from '../instances/store.js';
import type { ProviderTarget } from '../provider/calls.js';
import type { RequestTemplate, TemplateScope } from '../templates/request-template.js';
import type { RequestLogStore } from './store.js';

/**
 * Invoking a connector's request template for an instance, with Freshworks' request-method
 * semantics. Success answers the provider's `{status, headers, response, attempts}`; a failure is
 * an `InvocationError` carrying the same fields plus `errorSource`:
 *   APP       the provider answered 4xx/5xx (after retries): its status and body    → 502
 *   PLATFORM  no answer: `status` is the one we chose and `response` says why — timeout 504
 *             ("Timeout error while processing the request."), refused/DNS/TLS 502 ("Error in
 *             establishing the connection."), blocked by the network policy 502, our rate limit
 *             or the provider scope's rate budget 429 (with Retry-After)
 * `body` given at invocation replaces the template's `schema.body` (a string as is, else JSON).
 * Every invocation of a known template is written to `request_log` and to the log, with the
 * instance's secret values redacted.
 */
export interface InvocationOutcome {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  response: string;
  attempts: number;
}

export interface FailedOutcome extends InvocationOutcome {
  errorSource: 'APP' | 'PLATFORM';
}

const CONNECTION_FAILED = 'Error in establishing the connection.';
const TIMED_OUT = 'Timeout error while processing the request.';

/** Freshworks' error shape: the provider's answer (or none) at the top level, beside code and message. */
export class InvocationError extends ApiError {
  constructor(
    statusCode: number,
    code: string,
    message: string,
    readonly outcome: FailedOutcome,
    headers: Record<string, string> = {},
  ) {
    super(statusCode, code, message, [], headers);
  }

  override toJSON() {
    return { ...super.toJSON(), ...this.outcome };
  }
}

interface LogEntry {
  method: string;
  url: string;
  status: number | null;
  errorSource: 'APP' | 'PLATFORM' | null;
  attempts: number;
  durationMs: number;
  error?: string;
}

/**
 * The network policy applied to the URL as written. Names are also checked when connecting (the
 * guarded DNS lookup), but an IP literal never goes through DNS (a base URL may hold one).
 */
function policyViolation(url: string, policy: NetworkPolicy): string | null {
  try {
    checkUrlSyntax(url, policy, 'provider URL');
    return null;
  } catch (err) {
    if (err instanceof ValidationError) return err.message;
    throw err;
  }
}

/** checkUrlSyntax names the rule it applied in `details`; a URL that does not parse has none. */
const isGuardRefusal = (err: ValidationError) => err.details.some((d) => typeof d === 'object' && d !== null && 'rule' in d);

export type TemplateInvoker = (instance: Instance, templateName: string, context: Record<string, unknown>, body?: unknown) => Promise<InvocationOutcome>;

export function createTemplateInvoker(ctx: RequestsContext, requestLog: RequestLogStore): TemplateInvoker {
  // A fixed one-minute window per instance, in memory on each node (documented).
  const limiter = new RateLimiter(ctx.config.requests.rateLimitPerMinute, ctx.clock);
  return async (instance, name, context, body) => new Invocation(ctx, requestLog, instance, name).run(limiter, context, body);
}

/**
 * One invocation of a template, step by step: the rate limit, the body rule, the OAuth token, the
 * request built from the template, the network policy, the call; every outcome is recorded once.
 */
class Invocation {
  private readonly template: RequestTemplate;
  private readonly target: ProviderTarget;
  /** The instance's secret values, raw and URL-encoded (the form they would take in a URL): redacted from every message. */
  private readonly secrets: string[];
  private readonly at: number;
  private readonly method: string;

  constructor(
    private readonly ctx: RequestsContext,
    private readonly requestLog: RequestLogStore,
    private readonly instance: Instance,
    private readonly name: string,
  ) {
    const connector = ctx.instances.connectorOf(instance);
    const template = Object.hasOwn(connector.requests ?? {}, name) ? connector.requests![name] : undefined;
    if (!template) throw new NotFoundError(`connector "${connector.key}" has no request template "${name}"`);
    this.template = template;
    this.target = { connector, configuration: instance.configuration, instanceId: instance.id };
    this.secrets = secretValuesOf(instance, ctx.secretsOf(instance.elementKey));
    this.at = ctx.clock.now();
    this.method = (template.schema.method ?? 'GET').toUpperCase();
  }

  async run(limiter: RateLimiter, context: Record<string, unknown>, body: unknown): Promise<InvocationOutcome> {
    await this.checkRateLimit(limiter);
    if (body !== undefined && this.method === 'GET') {
      await this.refuseInput(new ValidationError(`template "${this.name}" is a GET request: it sends no body`, [{ field: 'body' }]));
    }
    const accessToken = await this.accessToken();
    const scope = { iparam: this.instance.configuration, context, access_token: accessToken };
    this.target.scope = scope;
    const { request, options, redactedUrl } = await this.build(scope, body);
    const url = redactText(redactedUrl, this.secrets);
    const violation = policyViolation(request.url, this.ctx.config.network);
    if (violation) return this.refuseDestination(url, violation);
    const started = performance.now();
    try {
      const result = await this.ctx.providerCalls.send(this.target, request, {
        maxAttempts: options.maxAttempts,
        retryDelayMs: options.retryDelay,
        timeoutMs: Math.min(options.timeout, this.ctx.config.requests.maxTimeoutSeconds * 1000),
      });
      await this.record({ url, status: result.status, errorSource: null, attempts: result.attempts, durationMs: performance.now() - started });
      return { status: result.status, headers: result.headers, response: result.response, attempts: result.attempts };
    } catch (err) {
      if (!(err instanceof ProviderError)) throw err;
      return this.failed(err, url, started);
    }
  }

  /** Past the instance's invocations a minute: 429 with Retry-After, recorded. */
  private async checkRateLimit(limiter: RateLimiter): Promise<void> {
    const wait = limiter.hit(String(this.instance.id));
    if (wait <= 0) return;
    const message = `this instance may invoke at most ${this.ctx.config.requests.rateLimitPerMinute} request templates a minute; retry in ${wait} s`;
    await this.record({ url: '', status: 429, errorSource: 'PLATFORM', attempts: 0, durationMs: 0, error: message });
    throw new InvocationError(
      429,
      'RATE_LIMITED',
      message,
      { status: 429, headers: {}, response: message, errorSource: 'PLATFORM', attempts: 0 },
      { 'Retry-After': String(wait) },
    );
  }

  /** An OAuth request (isOAuth) sends the instance's OAuth access token, as Freshworks' does. */
  private async accessToken(): Promise<string | undefined> {
    if (this.template.options?.isOAuth !== true) return undefined;
    let accessToken: string | undefined;
    try {
      accessToken = await this.ctx.providerCalls.accessTokenOf(this.target);
    } catch (err) {
      // The token was due for a refresh and the refresh failed.
      if (!(err instanceof ProviderError)) throw err;
      return this.failed(err, '', performance.now());
    }
    if (!accessToken) {
      await this.refuseInput(
        new ApiError(
          400,
          'OAUTH_TOKEN_MISSING',
          `template "${this.name}" makes an OAuth request (isOAuth: true), but instance ${this.instance.id} has no OAuth access token: authorize the instance first`,
          [{ field: 'providerData' }],
        ),
      );
    }
    return accessToken;
  }

  private async build(scope: TemplateScope, body: unknown): Promise<ReturnType<typeof buildTemplateRequest>> {
    try {
      return buildTemplateRequest({ baseUrl: await this.ctx.providerCalls.baseUrlOf(this.target), template: this.template, scope, body });
    } catch (err) {
      // The SSRF guard's rule (cloud metadata, a scheme…) refused the URL the values made.
      if (err instanceof ValidationError && isGuardRefusal(err)) return this.refuseDestination('', err.message);
      // A missing context value, a header value with CR/LF, a host value that is not host-name
      // labels (ValidationErrors naming them), or a URL the values broke: bad input, answered 400
      // and not logged (a refused request changes nothing).
      const message = redactText((err as Error).message, this.secrets);
      if (err instanceof ApiError) throw err;
      throw new ValidationError(`the request could not be built: ${message}`, [{ template: this.name }]);
    }
  }

  /** Bad input found before anything was sent: recorded, then thrown as it is. */
  private async refuseInput(error: ApiError): Promise<never> {
    await this.record({ url: '', status: null, errorSource: null, attempts: 0, durationMs: 0, error: error.message });
    throw error;
  }

  /** A gateway-side refusal of the destination: no request was sent. */
  private async refuseDestination(url: string, reason: string): Promise<never> {
    const message = `the request was blocked: ${redactText(reason, this.secrets)}`;
    await this.record({ url, status: null, errorSource: 'PLATFORM', attempts: 0, durationMs: 0, error: message });
    throw new InvocationError(502, 'PLATFORM_ERROR', message, { status: 502, headers: {}, response: message, errorSource: 'PLATFORM', attempts: 0 });
  }

  /** A provider call (or the token refresh before it) that failed, answered as Freshworks does. */
  private async failed(err: ProviderError, url: string, started: number): Promise<never> {
    const message = redactText(err.message, this.secrets);
    await this.record({
      url,
      status: err.status || null,
      errorSource: err.errorSource,
      attempts: err.attempts,
      durationMs: performance.now() - started,
      error: message,
    });
    if (err instanceof RateBudgetWait) {
      throw new InvocationError(
        429,
        'RATE_LIMITED',
        message,
        { status: 429, headers: {}, response: message, errorSource: 'PLATFORM', attempts: err.attempts },
        { 'Retry-After': String(err.retryAfterSeconds) },
      );
    }
    if (err.errorSource === 'APP') {
      throw new InvocationError(502, 'PROVIDER_ERROR', message, {
        status: err.status,
        headers: err.headers,
        response: err.response,
        errorSource: 'APP',
        attempts: err.attempts,
      });
    }
    const timedOut = err.code === 'ETIMEDOUT';
    const status = timedOut ? 504 : 502;
    // No answer came: the reason in Freshworks' words, or ours when pollgate refused to send.
    const response = timedOut ? TIMED_OUT : err.code === 'BLOCKED' || err.code === 'AUTH_FAILED' ? message : CONNECTION_FAILED;
    throw new InvocationError(status, 'PLATFORM_ERROR', message, { status, headers: {}, response, errorSource: 'PLATFORM', attempts: err.attempts });
  }

  /** The invocation's log line and `request_log` row. */
  private async record(entry: Omit<LogEntry, 'method'>): Promise<void> {
    const { instance, name: template } = this;
    const fields = { instanceId: instance.id, template, method: this.method, ...entry, durationMs: Math.round(entry.durationMs) };
    if (entry.error) this.ctx.log.warn(fields, 'request template failed');
    else this.ctx.log.info(fields, 'request template invoked');
    try {
      await this.requestLog.add(instance.id, {
        template,
        method: this.method,
        url: entry.url,
        status: entry.status,
        error_source: entry.errorSource,
        attempts: entry.attempts,
        duration_ms: Math.round(entry.durationMs),
        error: entry.error ?? null,
        at: this.at,
      });
    } catch (err) {
      // The provider call already happened: its answer matters more than its log row.
      this.ctx.log.error({ err, instanceId: instance.id, template }, 'could not write the request log');
    }
  }
}

function secretValuesOf(instance: Instance, secretKeys: ReadonlySet<string>): string[] {
  const values = Object.entries(instance.configuration)
    .filter(([key, value]) => isSecretKey(key, secretKeys) && typeof value === 'string')
    .map(([, value]) => value as string);
  return [...new Set([...values, ...values.map(encodeURIComponent)])];
}
