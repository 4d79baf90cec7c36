import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Clock } from '../clock.js';
import type { Config } from '../config/index.js';
import type { ConnectorDefinition } from '../connectors/schema.js';
import type { Logger } from '../log.js';
import { parseRetryAfter } from '../network/outbound.js';
import { renderString } from '../templates/request-template.js';
import type { HookFactory, ProviderTarget } from './calls.js';
import { ProviderError } from './http-client.js';
import { waitingUntil, type BudgetKey, type BudgetStore, type Pace } from './budget-store.js';

/**
 * Provider rate budgets (docs/auth.md "Rate budgets"). A connector that declares `rateLimit` or
 * `rateLimitHeaders` gives each provider scope — the account its `rateLimit.scope` template names,
 * else the instance — one budget, and every attempt of every provider call of the scope draws one
 * request from it before it is sent: poll pages, retries, webhook (de)registration, request
 * templates, token endpoints. It is the one per-attempt hook that ProviderCalls runs before auth.
 *
 * - `rateLimit: {requests: N, perSeconds: W}`: no N + 1 requests within W seconds (plus
 *   `provider.rateBudgetMarginSeconds`), a tenth of N allowed as a burst.
 * - `rateLimitHeaders.bucket`: a leaky bucket the provider reports as `used/size` (Shopify);
 *   calls are paced to keep one spare, the bucket's level shared like the budget.
 * - A 429 pauses the whole scope until its Retry-After (else the reset header, else a second); an
 *   answer whose `remaining` header is 0 pauses it until the `reset` header's time.
 * A call waits for its turn (with the gateway's sleep) up to `provider.maxRetryAfterSeconds`; past
 * that it fails with RateBudgetWait, which the poller turns into a later poll, not an error.
 */
export class RateBudgetWait extends ProviderError {
  constructor(
    readonly scope: string,
    readonly until: number,
    readonly reason: string,
    now: number,
  ) {
    super({
      message: `the rate budget of "${scope}" is spent until ${new Date(until).toISOString()} (${reason})`,
      errorSource: 'PLATFORM',
      attempts: 0,
      code: 'RATE_BUDGET',
      retryAfterSeconds: Math.max(1, Math.ceil((until - now) / 1000)),
    });
    this.name = 'RateBudgetWait';
  }
}

/** What GET /instances/:id/status shows of an instance's budget. */
export interface RateLimitStatus {
  scope: string;
  requests: number | null;
  perSeconds: number | null;
  waitingUntil: string | null;
  reason: string | null;
}

interface Budget {
  key: BudgetKey;
  connector: ConnectorDefinition;
}

/** Without a Retry-After or reset header, a 429 pauses its scope this long. */
const DEFAULT_429_PAUSE_MS = 1000;
/** Without a reset header, `remaining: 0` pauses the scope for its window, or this long. */
const DEFAULT_REMAINING_PAUSE_MS = 60_000;
/** A header asking for more than this is read as this (a garbled reset must not stop a scope for years). */
const MAX_PAUSE_MS = 24 * 3_600_000;
/** A bucket whose size is not known yet is not paced (its first answer tells the size). */
const UNBOUNDED = Number.MAX_SAFE_INTEGER / 4;
const BUCKET = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(\d+)\s*$/;

const headerOf = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};

/** Whether a connector's calls draw from a budget at all. */
export const hasBudget = (connector: ConnectorDefinition): boolean => connector.rateLimit !== undefined || connector.rateLimitHeaders !== undefined;

export class RateBudgets {
  /** Bucket sizes the provider reported, per scope (a constant of the account; learnt from its first answer). */
  private readonly bucketSizes = new Map<string, number>();

  constructor(
    private readonly store: BudgetStore,
    private readonly config: Config,
    private readonly clock: Clock,
    private readonly sleep: (ms: number) => Promise<void>,
    private readonly log: Logger,
  ) {}

  /** The per-attempt hooks of a provider call (registered with ProviderCalls.use). */
  hooks: HookFactory = (target) => {
    const budget = this.budgetOf(target);
    if (!budget) return undefined;
    return {
      beforeSend: async (request) => {
        await this.acquire(budget);
        return request;
      },
      afterAnswer: async (answer) => {
        await this.observe(budget, answer.status, answer.headers);
      },
    };
  };

  /** The `rateLimit` part of an instance's status; undefined for connectors without a budget. */
  async status(target: ProviderTarget): Promise<RateLimitStatus | undefined> {
    const budget = this.budgetOf(target);
    if (!budget) return undefined;
    const state = await this.store.read(budget.key);
    const waiting = state && waitingUntil(state, this.paceOf(budget), this.clock.now());
    const limit = budget.connector.rateLimit;
    return {
      scope: budget.key.scope,
      requests: limit?.requests ?? null,
      perSeconds: limit?.perSeconds ?? null,
      waitingUntil: waiting ? new Date(waiting.until).toISOString() : null,
      reason: waiting?.reason ?? null,
    };
  }

  /** The budget a call draws from: its connector's, for the scope the instance's configuration names. */
  private budgetOf(target: ProviderTarget): Budget | undefined {
    const { connector } = target;
    if (!hasBudget(connector)) return undefined;
    const template = connector.rateLimit?.scope;
    let scope = template ? renderString(template, { iparam: target.configuration, context: {} }).trim() : '';
    // The default scope is the instance; a call made before there is one (an OAuth code exchange) has none.
    if (scope === '') {
      if (target.instanceId === undefined) return undefined;
      scope = `instance ${target.instanceId}`;
    }
    if (scope.length > 200) scope = `sha256:${createHash('sha256').update(scope).digest('hex')}`;
    return { key: { elementKey: connector.key, scope }, connector };
  }

  private bucketId(budget: Budget): string {
    return `${budget.key.elementKey}\n${budget.key.scope}`;
  }

  /** How the scope's requests are spread (budget-store.ts: one every interval, a burst ahead). */
  private paceOf(budget: Budget): Pace {
    const { rateLimit: limit, rateLimitHeaders: headers } = budget.connector;
    if (headers?.bucket) {
      const leak = headers.leakPerSecond ?? (limit?.requests && limit.perSeconds ? limit.requests / limit.perSeconds : 1);
      const intervalMs = 1000 / leak;
      const size = this.bucketSizes.get(this.bucketId(budget)) ?? limit?.requests;
      // A request may go while the bucket holds at most size − 2: it leaves one call spare.
      return { intervalMs, burstMs: size === undefined ? UNBOUNDED : Math.max(0, size - 2) * intervalMs };
    }
    if (limit?.requests && limit.perSeconds) {
      // N + 1 requests given send times span at least (N + 1 − burst) intervals; make that the
      // window plus the margin, so the provider counts at most N in any window of its length even
      // when a request reaches it up to the margin later than pollgate granted it.
      const burst = Math.max(1, Math.ceil(limit.requests / 10));
      const intervalMs = Math.ceil(((limit.perSeconds + this.config.provider.rateBudgetMarginSeconds) * 1000) / (limit.requests + 1 - burst));
      return { intervalMs, burstMs: (burst - 1) * intervalMs };
    }
    // Headers only: no pacing of our own, the provider's pauses only.
    return { intervalMs: 0, burstMs: 0 };
  }

  /** Waits for the call's turn; throws RateBudgetWait when it is further away than a call may wait. */
  private async acquire(budget: Budget): Promise<void> {
    const latest = this.clock.now() + this.config.provider.maxRetryAfterSeconds * 1000;
    for (;;) {
      const now = this.clock.now();
      const pace = this.paceOf(budget);
      const taken = pace.intervalMs === 0 ? await this.pausedOnly(budget, now, latest) : await this.store.take(budget.key, pace, now, latest);
      if (!taken.granted) {
        const waiting = waitingUntil(taken.state, pace, now) ?? { until: latest, reason: 'budget exhausted' };
        throw new RateBudgetWait(budget.key.scope, waiting.until, waiting.reason, now);
      }
      if (taken.sendAt <= now) return;
      await this.sleep(taken.sendAt - now);
      // A pause recorded while this call slept (a 429 another call got) wins over the turn it held.
      const state = await this.store.read(budget.key);
      if (!state || state.pausedUntil <= taken.sendAt) return;
    }
  }

  /** A scope without a pace of its own only waits out pauses (a read, not a write). */
  private async pausedOnly(budget: Budget, now: number, latest: number) {
    const state = await this.store.read(budget.key);
    const sendAt = Math.max(now, state?.pausedUntil ?? 0);
    return state && sendAt > latest ? { granted: false as const, state } : { granted: true as const, sendAt };
  }

  /** Reads an answer's rate-limit signals: a bucket level, a 429, an exhausted `remaining`. */
  private async observe(budget: Budget, status: number, headers: IncomingHttpHeaders): Promise<void> {
    const now = this.clock.now();
    const declared = budget.connector.rateLimitHeaders;
    if (declared?.bucket) {
      const m = BUCKET.exec(headerOf(headers, declared.bucket) ?? '');
      if (m) {
        this.bucketSizes.set(this.bucketId(budget), Number(m[2]));
        // The provider's level: the steady-rate turn is `used` intervals away.
        await this.store.raise(budget.key, now + Number(m[1]) * this.paceOf(budget).intervalMs, now);
      }
    }
    let pause: { until: number; reason: string } | undefined;
    if (status === 429) {
      const retryAfter = parseRetryAfter(headers['retry-after'], now);
      pause =
        retryAfter !== undefined
          ? { until: now + retryAfter * 1000, reason: '429 Retry-After' }
          : { until: this.resetOf(budget, headers, now) ?? now + DEFAULT_429_PAUSE_MS, reason: '429' };
    } else if (declared?.remaining) {
      const remaining = Number(headerOf(headers, declared.remaining) ?? Number.NaN);
      if (!Number.isNaN(remaining) && remaining <= 0) {
        const window = budget.connector.rateLimit?.perSeconds;
        pause = { until: this.resetOf(budget, headers, now) ?? now + (window ? window * 1000 : DEFAULT_REMAINING_PAUSE_MS), reason: 'remaining 0' };
      }
    }
    if (!pause || pause.until <= now) return;
    // The margin pads pauses too: the provider counts from when it answered, by its own clock.
    const until = Math.min(pause.until + this.config.provider.rateBudgetMarginSeconds * 1000, now + MAX_PAUSE_MS);
    await this.store.pause(budget.key, until, pause.reason, now);
    this.log.info(
      { element: budget.key.elementKey, scope: budget.key.scope, until: new Date(until).toISOString(), reason: pause.reason },
      'provider rate budget paused',
    );
    // A 429 asking for longer than a call may wait ends the call here: the poll is delayed, not failed.
    if (status === 429 && until - now > this.config.provider.maxRetryAfterSeconds * 1000) throw new RateBudgetWait(budget.key.scope, until, pause.reason, now);
  }

  /** The time the `reset` header names, if the connector declares one and the answer has it. */
  private resetOf(budget: Budget, headers: IncomingHttpHeaders, now: number): number | undefined {
    const declared = budget.connector.rateLimitHeaders;
    if (!declared?.reset) return undefined;
    const value = Number(headerOf(headers, declared.reset) ?? Number.NaN);
    if (!Number.isFinite(value)) return undefined;
    if (declared.resetIn === 'epoch-seconds') return value * 1000;
    if (declared.resetIn === 'epoch-ms') return value;
    return now + value * 1000;
  }
}
