import type { DeliveryContext } from './context.js';
import type { Feature } from '../feature.js';
import { GroupCommit } from '../db/group-commit.js';
import { errorKind } from '../db/errors.js';
import { createGuardedLookup } from '../network/ssrf-guard.js';
import { buildRequests } from './build.js';
import type { DeliveryOutcome, EventStore, NotificationRow } from '../events/store.js';
import { isSuccess, mapResponse, sendCallback, truncateBytes, type AttemptResult } from './send.js';
import { signatureHeaders } from './signing.js';
import { OriginGuard, type OriginPass, type OriginStatus, type OriginVerdict } from './origins.js';
import { callbackOrigin, callbackOriginOf } from '../instances/settings.js';
import { workOf, type WorkDeps } from './work.js';
import type { Instance } from '../instances/store.js';
import { Slots } from '../lib/slots.js';
import { WorkerLoop } from '../lib/worker-loop.js';

/**
 * The dispatcher drains the outbox. A tick claims due notifications with a lease (so no two
 * workers or nodes send the same attempt at once), sends each, records the attempt, and decides:
 * delivered (2xx/3xx), retry later on the schedule (honouring Retry-After), dead when the schedule
 * runs out, or held when the callback answered 410 Gone. A worker that dies mid-send loses nothing:
 * the lease expires and the notification is sent again with the same `webhook-id`. Each callback
 * origin gets a bounded share of the send slots and a circuit breaker (origins.ts), so one receiver
 * that never answers does not hold the others back.
 */
interface Outcome extends DeliveryOutcome {
  /** The instance whose callback answered 410 Gone (its callbacks are switched off). */
  holdInstance: number | null;
}

/** How often a notification of an instance with notifications switched off is looked at again. */
const HOLD_RECHECK_MS = 60_000;

export class Dispatcher extends WorkerLoop implements Feature {
  readonly name = 'delivery';
  /** Jitter source; tests replace it to make retry times exact. */
  random: () => number = Math.random;
  /** got's `dnsLookup`: resolves, then refuses addresses the network policy forbids (SSRF). */
  dnsLookup: ReturnType<typeof createGuardedLookup>;
  /** Attempts and outcomes are recorded with group commit: one transaction per batch. */
  private readonly outcomes: GroupCommit<Outcome, void>;
  /** Per callback origin: its share of the send slots and its circuit breaker. */
  private readonly origins: OriginGuard;
  /** Set by `wake`: a pass that found nothing more to claim claims again. */
  private woken = false;
  /** Counts wake-ups: a claim that began before the last one does not prove nothing is due. */
  private wakes = 0;
  private wakeUp: (() => void) | undefined;

  constructor(
    private readonly ctx: DeliveryContext,
    private readonly events: EventStore,
  ) {
    super({
      name: 'delivery',
      tickSeconds: () => ctx.config.delivery.tickSeconds,
      log: ctx.log,
      leases: { owner: ctx.nodeId, release: (ids, owner) => events.releaseNotificationLeases(ids, owner) },
      metrics: ctx.metrics,
    });
    this.dnsLookup = createGuardedLookup(ctx.config.network);
    this.workDeps = { instances: ctx.instances, sessionById: (id) => ctx.stores.connectSessions.byId(id) };
    this.outcomes = new GroupCommit((items) => this.record(items));
    this.origins = new OriginGuard(() => ctx.config.delivery, ctx.clock, ctx.metrics, ctx.log);
  }

  /** Where a claimed notification's callback settings come from: its instance, or its connect session. */
  private readonly workDeps: WorkDeps;

  /** This node's view of an instance's callback origin (its share in use, its circuit breaker); null without a callback URL. */
  originStatus(instance: Instance): (OriginStatus & { node: string }) | null {
    const origin = callbackOriginOf(instance.configuration);
    return origin ? { ...this.origins.status(origin), node: this.ctx.nodeId } : null;
  }

  /**
   * A tick or a kick while a pass runs makes that pass claim again, rather than new work waiting
   * for every send in flight (a slow receiver's among them) to end.
   */
  override tick(): Promise<number> {
    this.wake();
    return super.tick();
  }

  override kick(): void {
    if (this.started) this.wake();
    super.kick();
  }

  private wake(): void {
    this.woken = true;
    this.wakes++;
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    wakeUp?.();
  }

  private async record(items: Outcome[]): Promise<void[]> {
    const now = this.ctx.clock.now();
    const held = [...new Set(items.map((o) => o.holdInstance).filter((id): id is number => id !== null))];
    await this.ctx.stores.transaction(async (uow) => {
      await uow.events.recordOutcomes(items, this.ctx.nodeId);
      await uow.instances.holdCallbacks(held, now);
    });
    return items.map(() => undefined);
  }

  override start(): void {
    if (this.ctx.config.delivery.enabled) super.start();
  }

  private get leaseMs(): number {
    const d = this.ctx.config.delivery;
    // A lease must outlive the slowest attempt (one request per event in templated mode aside).
    return Math.max(d.leaseSeconds, d.timeoutSeconds * 2 + 5) * 1000;
  }

  /**
   * One pass: keeps up to `delivery.concurrency` sends going until nothing more is due; resolves
   * when every send it started is recorded. Half as many rows again are claimed ahead, so a send
   * slot that frees finds its next notification already claimed and loaded instead of waiting for
   * a claim (a refill at a time, not one claim per finished send). Notifications parked behind
   * their origin's share do not count as claimed ahead: they hold no send slot, and the claims
   * skip their origin meanwhile.
   */
  protected async pass(): Promise<number> {
    let total = 0;
    let exhausted = false;
    let claiming: Promise<void> | undefined;
    for (;;) {
      if (this.woken) {
        this.woken = false;
        exhausted = false;
      }
      const concurrency = this.ctx.config.delivery.concurrency;
      const room = concurrency + Math.floor(concurrency / 2) - (this.running.size - this.origins.parked);
      if (!claiming && !exhausted && !this.stopping && room >= Math.max(1, Math.ceil(concurrency / 2))) {
        const wakesBefore = this.wakes;
        claiming = this.claim(room)
          .then((claimed) => {
            total += claimed;
            // A wake-up while this claim ran (new work, an origin that became claimable) may
            // concern rows it did not see: the pass claims again rather than waiting for a tick.
            if (claimed < room && this.wakes === wakesBefore) exhausted = true;
          })
          .finally(() => {
            claiming = undefined;
          });
      }
      if (this.running.size === 0 && !claiming) break;
      const woken = new Promise<void>((resolve) => {
        this.wakeUp = resolve;
      });
      await Promise.race([woken, ...(claiming ? [claiming] : []), ...this.running.values()]);
    }
    this.wakeUp = undefined;
    return total;
  }

  private async claim(limit: number): Promise<number> {
    const { clock, nodeId } = this.ctx;
    const claimedAt = clock.now();
    // Oldest first: an instance's notifications go out in the order they were made.
    const claimed = await this.events.claimDueNotifications({
      now: claimedAt,
      owner: nodeId,
      leaseMs: this.leaseMs,
      limit,
      skipOrigins: this.origins.blockedOrigins(),
    });
    const rows = await this.coalesce(claimed, claimedAt, claimed.length >= limit);
    const [bodies, origins] = await Promise.all([
      // Without them each send reads its own body (and reports what fails then).
      this.events.notificationBodies(rows).catch((err) => {
        const kind = errorKind(err);
        this.ctx.metrics.errors.inc({ component: 'delivery-bodies', kind });
        this.ctx.log.warn({ err: (err as Error).message, kind }, "the claimed notifications' bodies could not be read together; each is read on its own");
        return new Map<string, Record<string, unknown>>();
      }),
      Promise.all(rows.map((row) => this.originOf(row))),
    ]);
    for (const [i, row] of rows.entries()) this.track(row.id, this.run(row, origins[i], claimedAt, bodies.get(row.id)));
    // Rows claimed, not sends: a full claim means more may be due, however many it was merged into.
    return claimed.length;
  }

  /**
   * Under backlog, fewer and fuller sends: claimed polling notifications of one instance and object
   * type, never attempted, are merged up to the instance's events per notification (and, when the
   * claim came back full, more of their kind are claimed to fill them). The merge is committed
   * before any send (src/events/coalesce.ts); if it cannot be, the rows go out as claimed.
   */
  private async coalesce(rows: NotificationRow[], now: number, full: boolean): Promise<NotificationRow[]> {
    const polling = rows.filter((r) => r.source === 'polling');
    if (polling.length === 0 || (!full && polling.length < 2)) return rows;
    const max = new Map<number, number>();
    for (const id of new Set(polling.flatMap((r) => (r.instance_id === null ? [] : [r.instance_id])))) {
      try {
        const { settings } = await this.ctx.instances.forWork(id);
        max.set(id, settings.maxBatchSize ?? this.ctx.config.delivery.maxEventsPerNotification.polling);
      } catch {
        max.set(id, 1); // unreadable now: its rows are sent (or fail) as they are
      }
    }
    try {
      return await this.events.coalesceNotifications(rows, {
        now,
        owner: this.ctx.nodeId,
        leaseMs: this.leaseMs,
        topUp: full,
        maxOf: (id) => max.get(id) ?? 1,
      });
    } catch (err) {
      // Only the top-up claim can fail here (a failed merge rolls back inside): sent as claimed.
      this.ctx.log.warn({ err: (err as Error).message }, 'claimed notifications could not be coalesced; sent as claimed');
      return rows;
    }
  }

  /** The callback origin a claimed notification goes to; null when it will not be sent (held, or its instance or session unreadable). */
  private async originOf(row: NotificationRow): Promise<string | null> {
    try {
      const work = await workOf(this.workDeps, row);
      return work?.settings.notificationsEnabled ? callbackOrigin(work.settings.callback.url) : null;
    } catch {
      return null;
    }
  }

  /** A claimed notification: a place among its origin's sends, then a send slot, then the send. */
  private async run(row: NotificationRow, origin: string | null, claimedAt: number, body: Record<string, unknown> | undefined): Promise<void> {
    const pass = origin === null ? null : await this.origins.enter(origin);
    if (origin !== null && !pass) {
      // Its origin's circuit is open: given back untouched (no attempt charged), due as before.
      await this.giveBack([row.id]);
      return;
    }
    await this.inSlot(row, claimedAt, pass, (leaveSlot) => this.deliver(row, body, leaveSlot));
  }

  /**
   * Sends in flight: a claimed row waits for one of `delivery.concurrency` slots. A slot (and the
   * origin's place) is left once the HTTP attempt is over, not once its outcome is committed.
   */
  private readonly slots = new Slots(() => this.ctx.config.delivery.concurrency);

  private async inSlot(
    row: NotificationRow,
    claimedAt: number,
    pass: OriginPass | null,
    send: (leaveSlot: (verdict?: OriginVerdict) => void) => Promise<void>,
  ): Promise<void> {
    await this.slots.acquire();
    let held = true;
    const leave = (verdict: OriginVerdict = 'none') => {
      if (!held) return;
      held = false;
      this.slots.release();
      if (pass && this.origins.leave(pass, verdict)) this.wake();
    };
    try {
      if (this.stopping || (pass && !this.origins.mayStart(pass))) {
        // Claimed ahead but not begun (stopping, or its origin's circuit opened meanwhile): given
        // back, due again at once (here once the circuit lets it, or on another node).
        await this.giveBack([row.id]);
        return;
      }
      // Waited behind slow sends: the lease is renewed so that it still covers this attempt (and
      // the send skipped if the lease ran out and another node took it).
      const now = this.ctx.clock.now();
      if (now - claimedAt > this.leaseMs / 2 && !(await this.events.renewNotificationLease(row.id, this.ctx.nodeId, now + this.leaseMs))) return;
      await send(leave);
    } finally {
      leave();
    }
  }

  /** Ticks until nothing is due (tests and the benchmark). */
  async drain(maxTicks = 1000): Promise<number> {
    let total = 0;
    for (let i = 0; i < maxTicks; i++) {
      const n = await this.tick();
      total += n;
      if (n === 0) break;
    }
    return total;
  }

  private async deliver(row: NotificationRow, preloaded?: Record<string, unknown>, leaveSlot: (verdict?: OriginVerdict) => void = () => {}): Promise<void> {
    const { clock, log, instances, config, nodeId } = this.ctx;
    try {
      const work = await workOf(this.workDeps, row);
      if (!work) {
        // Bound to a connect session that is gone (or whose connector is): nothing can be sent, ever.
        leaveSlot();
        const now = clock.now();
        const error = 'its connect session or connector no longer exists';
        await this.outcomes.submit({
          id: row.id,
          holdInstance: null,
          patch: { status: 'dead', last_error: error, updated_at: now, lease_owner: null, lease_expires_at: null },
        });
        return;
      }
      const { instance, settings, signingSecrets: secrets } = work;
      const cb = settings.callback;
      if (!settings.notificationsEnabled || !cb.url) {
        // Notifications switched off after this one was queued: held, not sent and not lost.
        leaveSlot();
        const now = clock.now();
        await this.outcomes.submit({
          id: row.id,
          holdInstance: null,
          patch: { next_attempt_at: now + HOLD_RECHECK_MS, updated_at: now, lease_owner: null, lease_expires_at: null },
        });
        return;
      }
      const body = preloaded ?? (await this.events.notificationBody(row));
      const requests = buildRequests(instance, cb, body, row);
      // Templated mode: the requests the receiver already accepted are not sent again.
      let done = Math.min(row.requests_done ?? 0, requests.length - 1);
      const timeoutMs = config.delivery.timeoutSeconds * 1000;
      const needMs = (requests.length - done) * timeoutMs + 5000;
      if (needMs > this.leaseMs) await this.events.renewNotificationLease(row.id, nodeId, clock.now() + needMs);
      let result!: AttemptResult;
      for (const request of requests.slice(done)) {
        const headers = {
          ...request.headers,
          ...signatureHeaders({ id: request.webhookId, body: request.body, now: clock.now(), secrets, signatureKey: cb.signatureKey }),
        };
        result = await sendCallback(
          { ...request, headers },
          { outbound: this.ctx.outbound, timeoutMs, policy: config.network, dnsLookup: this.dnsLookup, now: clock.now() },
        );
        if (!isSuccess(result.status)) break;
        done++;
      }
      leaveSlot(verdictOf(result));
      const now = clock.now();
      const decided = this.decide(row, result, settings.retrySchedule ?? config.delivery.retrySchedule);
      // A session-bound notification has no instance callbacks to hold: a 410 ends it.
      const outcome = decided.held && work.session ? { status: 'dead' } : decided;
      const responseData = cb.responseMapping && result.json !== undefined ? mapResponse(cb.responseMapping, result.json) : undefined;
      await this.outcomes.submit({
        attempt: {
          notification_id: row.id,
          attempted_at: now,
          status_code: result.status,
          duration_ms: Math.round(result.durationMs),
          response_body: truncateBytes(result.responseBody, config.delivery.maxResponseBodyBytes),
          error: result.error,
          node: nodeId,
        },
        id: row.id,
        patch: {
          status: outcome.status,
          attempt_count: row.attempt_count + (outcome.held ? 0 : 1),
          requests_done: done,
          next_attempt_at: outcome.nextAttemptAt ?? row.next_attempt_at,
          last_status_code: result.status,
          last_error: result.error,
          updated_at: now,
          delivered_at: outcome.status === 'delivered' ? now : null,
          lease_owner: null,
          lease_expires_at: null,
          ...(responseData ? { response_data: JSON.stringify(responseData) } : {}),
        },
        holdInstance: outcome.held ? row.instance_id : null,
      });
      this.ctx.metrics.deliveries.inc({ outcome: outcome.held ? 'held' : outcome.status === 'pending' ? 'retry' : outcome.status });
      if (outcome.held && row.instance_id !== null) {
        instances.invalidate(row.instance_id);
        log.warn({ instanceId: row.instance_id }, 'callback answered 410 Gone: notifications are held until events are enabled again');
      }
    } catch (err) {
      // Could not even build or record the attempt (the database away, most often): no outcome is
      // made up; the lease brings the notification back, and it is sent again with the same id.
      const kind = errorKind(err);
      this.ctx.metrics.errors.inc({ component: 'delivery', kind });
      if (kind === 'database_unavailable')
        log.warn({ err: (err as Error).message, notificationId: row.id }, 'delivery interrupted: the database is unavailable');
      else log.error({ err, notificationId: row.id }, 'delivery failed unexpectedly');
    }
  }

  private decide(row: NotificationRow, r: AttemptResult, schedule: number[]): { status: string; nextAttemptAt?: number; held?: boolean } {
    const now = this.ctx.clock.now();
    if (isSuccess(r.status)) return { status: 'delivered' };
    if (r.status === 410) return { status: 'pending', nextAttemptAt: now, held: true };
    const retriesDone = row.attempt_count; // attempts before this one
    if (retriesDone >= schedule.length) return { status: 'dead' };
    if (r.retryAfterSeconds !== undefined) {
      // The receiver's Retry-After wins, up to the schedule's longest step (a hostile or broken
      // receiver cannot park a notification for months).
      return { status: 'pending', nextAttemptAt: now + Math.round(Math.min(r.retryAfterSeconds, Math.max(...schedule)) * 1000) };
    }
    const jitter = this.ctx.config.delivery.retryJitter;
    const delayMs = Math.round(schedule[retriesDone] * 1000 * (1 + jitter * (2 * this.random() - 1)));
    return { status: 'pending', nextAttemptAt: now + delayMs };
  }
}

/** What an attempt says about its receiver's origin, for the circuit breaker. */
function verdictOf(r: AttemptResult): OriginVerdict {
  if (r.status !== null) return 'answered';
  return r.failure === 'timeout' || r.failure === 'unreachable' ? 'failed' : 'none';
}
