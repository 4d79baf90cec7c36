import { isoOrNull, type Clock } from '../clock.js';
import type { Config } from '../config/index.js';
import { backoffMs } from '../lib/backoff.js';
import { Slots } from '../lib/slots.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';

/**
 * What the dispatcher keeps per callback origin (scheme, host, port), on this node:
 *
 * - **A share of the send slots.** At most `delivery.maxConcurrencyPerOrigin` sends to one origin
 *   at once. Notifications claimed beyond that wait for their origin (parked), and the dispatcher's
 *   claims skip an origin once it has a share's worth parked: a receiver that never answers holds
 *   its share and the rest flows.
 * - **A circuit breaker.** `circuitBreaker.failureThreshold` timeouts or connection failures in a
 *   row open it: its parked notifications are given back, claims skip the origin, nothing is sent
 *   (and no attempt is charged) until the cool-down ends — `cooldownSeconds`, doubling with each
 *   opening in a row up to `maxCooldownSeconds` (lib/backoff.ts). Then it is half-open: one
 *   notification goes out as a probe; any HTTP answer (the receiver is alive, whatever it says)
 *   closes it, another timeout or refused connection opens it again. An answer to a send that was
 *   already in flight closes it too.
 *
 * Nothing here is shared between nodes: each node learns about a receiver from its own sends (a
 * node whose breaker is open leaves the origin's notifications to the others, whose breakers open
 * in turn if the receiver is down for them too). An origin is forgotten once it is idle with a
 * closed breaker and no failure counted, so the map and the metric series follow what is in use.
 */
export type CircuitState = 'closed' | 'open' | 'half-open';
/** What one attempt says about its origin: it answered (any status), it failed to (timeout, refused), or neither. */
export type OriginVerdict = 'answered' | 'failed' | 'none';

/** Held by a send to an origin, from when it may go until its attempt is over. */
export interface OriginPass {
  readonly origin: string;
  /** The one send of a half-open circuit. */
  readonly probe: boolean;
}

interface OriginEntry {
  slots: Slots;
  /** Timeouts and connection failures in a row. */
  failures: number;
  /** Openings in a row without an answer (the cool-down doubles with each). */
  opens: number;
  openedAt: number | null;
  /** Open until this time, half-open after it; null while closed. */
  retryAt: number | null;
  probing: boolean;
}

export interface OriginStatus {
  origin: string;
  circuit: CircuitState;
  consecutiveFailures: number;
  openedDate: string | null;
  /** When an open circuit lets a probe through. */
  retryDate: string | null;
  inFlight: number;
  waiting: number;
}

export class OriginGuard {
  private readonly origins = new Map<string, OriginEntry>();
  /** Claimed notifications waiting for their origin's share, over all origins. */
  private parkedCount = 0;

  constructor(
    private readonly settings: () => Config['delivery'],
    private readonly clock: Clock,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  private entry(origin: string): OriginEntry {
    let e = this.origins.get(origin);
    if (!e) {
      e = { slots: new Slots(() => this.settings().maxConcurrencyPerOrigin), failures: 0, opens: 0, openedAt: null, retryAt: null, probing: false };
      this.origins.set(origin, e);
    }
    return e;
  }

  private stateOf(e: OriginEntry, now = this.clock.now()): CircuitState {
    if (e.retryAt === null) return 'closed';
    return now < e.retryAt ? 'open' : 'half-open';
  }

  /** Whether claims should leave this origin's notifications alone for now. */
  private blocked(e: OriginEntry, now: number): boolean {
    const state = this.stateOf(e, now);
    if (state === 'open') return true;
    if (state === 'half-open') return e.probing || e.slots.inUse > 0;
    return e.slots.waiters >= this.settings().maxConcurrencyPerOrigin;
  }

  /** The origins whose notifications a claim should skip now. */
  blockedOrigins(): string[] {
    const now = this.clock.now();
    return [...this.origins].filter(([, e]) => this.blocked(e, now)).map(([origin]) => origin);
  }

  /** Claimed notifications parked behind their origin's share (not waiting for a send slot). */
  get parked(): number {
    return this.parkedCount;
  }

  /**
   * A place among the origin's sends: at once, after waiting for its share (parked), or null when
   * its circuit is open, its probe is out, or it opened while this one waited.
   */
  async enter(origin: string): Promise<OriginPass | null> {
    const e = this.entry(origin);
    const state = this.stateOf(e);
    if (state === 'half-open') {
      if (e.probing || !e.slots.tryAcquire()) return this.refuse(origin, e);
      e.probing = true;
      this.showInFlight(origin, e);
      return { origin, probe: true };
    }
    if (state === 'open') return this.refuse(origin, e);
    if (!e.slots.tryAcquire()) {
      this.parkedCount++;
      const granted = await e.slots.acquire().finally(() => this.parkedCount--);
      if (!granted) return this.refuse(origin, e);
      if (this.stateOf(e) !== 'closed') {
        this.release(origin, e);
        return this.refuse(origin, e);
      }
    }
    this.showInFlight(origin, e);
    return { origin, probe: false };
  }

  /** Whether a send holding `pass` may still go now (its circuit may have opened since). */
  mayStart(pass: OriginPass): boolean {
    return pass.probe || this.stateOf(this.entry(pass.origin)) === 'closed';
  }

  /**
   * The send is over: its place is freed and its verdict counted. True when this made the origin
   * claimable again (the dispatcher then claims without waiting for its next tick).
   */
  leave(pass: OriginPass, verdict: OriginVerdict): boolean {
    const { origin } = pass;
    const e = this.entry(origin);
    const now = this.clock.now();
    const wasBlocked = this.blocked(e, now);
    if (pass.probe) e.probing = false;
    if (verdict === 'answered') {
      e.failures = 0;
      e.opens = 0;
      if (e.retryAt !== null) this.close(origin, e);
    } else if (verdict === 'failed') {
      e.failures++;
      const state = this.stateOf(e, now);
      if ((state === 'half-open' && pass.probe) || (state === 'closed' && e.failures >= this.settings().circuitBreaker.failureThreshold)) {
        this.open(origin, e, now);
      }
    }
    this.release(origin, e);
    return wasBlocked && !this.blocked(e, now);
  }

  /** This node's view of an origin, for the instance status. */
  status(origin: string): OriginStatus {
    const e = this.origins.get(origin);
    return {
      origin,
      circuit: e ? this.stateOf(e) : 'closed',
      consecutiveFailures: e?.failures ?? 0,
      openedDate: isoOrNull(e?.openedAt),
      retryDate: isoOrNull(e?.retryAt),
      inFlight: e?.slots.inUse ?? 0,
      waiting: e?.slots.waiters ?? 0,
    };
  }

  private open(origin: string, e: OriginEntry, now: number): void {
    const cb = this.settings().circuitBreaker;
    e.opens++;
    e.openedAt = now;
    e.retryAt = now + backoffMs(e.opens, cb.cooldownSeconds, cb.maxCooldownSeconds);
    // Those waiting for the origin are given back by the dispatcher; nothing is charged to them.
    e.slots.cancelWaiting();
    this.metrics.deliveryCircuitOpen.set({ origin }, 1);
    this.metrics.deliveryCircuitOpens.inc();
    this.log.warn(
      { origin, failures: e.failures, retryAt: new Date(e.retryAt).toISOString() },
      'callback origin keeps failing: circuit open, its notifications wait',
    );
  }

  private close(origin: string, e: OriginEntry): void {
    e.retryAt = null;
    e.openedAt = null;
    this.metrics.deliveryCircuitOpen.remove({ origin });
    this.log.info({ origin }, 'callback origin answers again: circuit closed');
  }

  private release(origin: string, e: OriginEntry): void {
    e.slots.release();
    this.showInFlight(origin, e);
  }

  private refuse(origin: string, e: OriginEntry): null {
    this.forgetIfIdle(origin, e);
    return null;
  }

  private showInFlight(origin: string, e: OriginEntry): void {
    if (e.slots.inUse > 0) this.metrics.deliveryInFlight.set({ origin }, e.slots.inUse);
    else {
      this.metrics.deliveryInFlight.remove({ origin });
      this.forgetIfIdle(origin, e);
    }
  }

  private forgetIfIdle(origin: string, e: OriginEntry): void {
    if (e.slots.inUse === 0 && e.slots.waiters === 0 && e.retryAt === null && e.failures === 0) this.origins.delete(origin);
  }
}
