import type { Config } from '../config/index.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { backoffMs } from '../lib/backoff.js';
import { Slots } from '../lib/slots.js';
import { WorkerLoop } from '../lib/worker-loop.js';
import { GroupCommit } from '../db/group-commit.js';
import { errorKind, isDatabaseUnavailable } from '../db/errors.js';
import type { InstanceService } from '../instances/service.js';
import type { ConnectorCatalog } from '../connectors/catalog.js';
import type { Metrics } from '../metrics.js';
import { ProviderError } from '../provider/http-client.js';
import { RateBudgetWait } from '../provider/rate-budget.js';
import { nextPollTime, pollPhase, type PollSpread } from './plan.js';
import { pollObject, type PollSummary } from './poll.js';
import type { PollDeps, PollObjectRow } from './poll-plan.js';
import type { PollStateStore } from './store.js';

/**
 * The scheduler (a WorkerLoop): each tick claims due objects with a lease (so a run of
 * one object never overlaps another, here or on another node) and polls them, at most
 * `poller.concurrency` at a time. Errors are recorded on the object and back it off; they never
 * stop the loop or other objects. `pollNow` runs the same code for one instance on request.
 *
 * A node holds only what it can start soon (see `holdLimit`): claimed polls not yet started are
 * capped, and a claim that reached the cap is followed by another as soon as half of them started,
 * not a tick later. So nodes sharing the work each take what they can run on time, and a node alone
 * claims as fast as it polls. Outcomes are written with group commit, and the instances of a
 * claimed batch are read in one statement.
 */
interface ClaimedRow extends PollObjectRow {
  failures: number;
  next_poll_at: number;
}

/** A poll that waits for its provider scope's rate budget: it runs again then, and is not an error. */
type Delayed = { delayedUntil: number; reason: string };
/** A poll cut short by the database (unreachable, connection lost): not the object's failure. */
type Interrupted = { interrupted: Error };
type Outcome = PollSummary | Delayed | Interrupted | { error: string };

const MAX_CLAIMED = 1000;
/** The start rate is measured over windows of this length. */
const RATE_WINDOW_MS = 1000;

/** One poll's outcome columns; `guarded`: only while this node holds the lease. */
type OutcomeWrite = { id: number; patch: Record<string, unknown>; guarded: boolean };

export class Poller extends WorkerLoop {
  /** At most `poller.concurrency` polls run at once; the others queue in claim order. */
  private readonly slots = new Slots(() => this.config.poller.concurrency);
  /** Claimed by a pass and not started yet (waiting for their due time or a slot). */
  private unstarted = 0;
  /** The last claim took all it was allowed: more may be due, claim again once half have started. */
  private claimFull = false;
  /** Polls started per second (the last full window), and the count in the current one. */
  private startRate = 0;
  private startsInWindow = 0;
  private windowStart = 0;
  private lastRenewAt = 0;
  /** The next pass is a refill (kicked by claimedStarted), not a tick. */
  private refilling = false;
  private readonly outcomes = new GroupCommit<OutcomeWrite, boolean>((items) => this.writeOutcomes(items));

  constructor(private readonly deps: PollDeps & { clock: Clock; nodeId: string; instances: InstanceService; catalog?: ConnectorCatalog; metrics?: Metrics }) {
    super({
      name: 'poll',
      tickSeconds: () => deps.config.poller.tickSeconds,
      log: deps.log,
      leases: { owner: deps.nodeId, release: (ids, owner) => deps.stores.pollState.releaseLeases(ids, owner) },
      metrics: deps.metrics,
    });
  }

  private get config(): Config {
    return this.deps.config;
  }
  private get store(): PollStateStore {
    return this.deps.stores.pollState;
  }
  private get log(): Logger {
    return this.deps.log;
  }

  get inFlight(): number {
    return this.running.size;
  }

  /**
   * Claimed-but-not-started polls a node holds at most: half a second of its start rate, and at
   * least 4 × `concurrency` (a node that has just started, or is idle, has no rate yet). Ticks
   * driven by hand (the loop not started: tests, poll-now) have no refills: they claim all that is due.
   */
  private get holdLimit(): number {
    if (!this.started) return MAX_CLAIMED;
    return Math.max(4 * this.config.poller.concurrency, Math.ceil(this.startRate / 2));
  }

  /** One scheduling pass: renews the leases held (once a tick), claims what is due and starts it. */
  protected async pass(): Promise<number> {
    const tickMs = this.config.poller.tickSeconds * 1000;
    const refill = this.refilling;
    this.refilling = false;
    // A refill between ticks only claims (wall clock: refills may follow each other for long).
    if (!refill || Date.now() - this.lastRenewAt >= tickMs) {
      this.lastRenewAt = Date.now();
      await this.renew();
      // A connector replaced on another node is what this tick's polls use.
      await this.deps.catalog?.sync();
    }
    const free = Math.min(this.holdLimit - this.unstarted, MAX_CLAIMED - this.running.size);
    this.claimFull = false;
    if (free <= 0) {
      this.claimFull = true;
      return 0;
    }
    const now = this.deps.clock.now();
    // Look ahead one tick: a poll due before the next tick is claimed now and started at its
    // due time, so the tick's granularity does not become scheduling lag.
    const lookAheadMs = this.started ? tickMs : 0;
    const rows = await this.store.claimDue<ClaimedRow>({
      dueBy: now + lookAheadMs,
      now,
      owner: this.deps.nodeId,
      leaseMs: this.config.poller.leaseSeconds * 1000 + lookAheadMs,
      limit: free,
    });
    this.claimFull = rows.length === free;
    // Their instances in one read; a poll whose instance is not there reads it itself.
    await this.deps.instances
      .preloadForWork(rows.map((r) => r.instance_id))
      .catch((err) => this.recordFailed(err, "could not read the claimed polls' instances ahead", 'poll-preload'));
    this.unstarted += rows.length;
    for (const row of rows) {
      const wait = Math.max(0, row.next_poll_at - this.deps.clock.now());
      const started = wait === 0 ? this.run(row, true) : new Promise<void>((r) => setTimeout(r, wait).unref()).then(() => this.run(row, true));
      this.track(row.id, started);
    }
    return rows.length;
  }

  /** A claimed poll started (or was dropped): counts its start, and claims more if the last claim was cut short. */
  private claimedStarted(): void {
    this.unstarted--;
    // The start rate is the node's real throughput: wall clock, not the gateway's (test) clock.
    const now = Date.now();
    if (now - this.windowStart >= RATE_WINDOW_MS) {
      this.startRate = (this.startsInWindow * 1000) / Math.max(RATE_WINDOW_MS, now - this.windowStart);
      this.startsInWindow = 0;
      this.windowStart = now;
    }
    this.startsInWindow++;
    if (this.claimFull && this.unstarted <= this.holdLimit / 2) {
      this.claimFull = false;
      this.refilling = true;
      this.kick();
    }
  }

  /** POST /instances/:id/events/poll: polls every object type of the instance (or just `objectType`) now. */
  async pollNow(
    instanceId: number,
    objectType?: string,
  ): Promise<{
    objects: Record<string, Omit<PollSummary, 'complete' | 'nextWatermark' | 'state'> & { error?: string; delayedUntil?: string; reason?: string }>;
  }> {
    const instance = await this.deps.instances.require(instanceId);
    const now = this.deps.clock.now();
    const rows = await this.store.claimOfInstance<ClaimedRow>(instance.id, objectType, {
      now,
      owner: this.deps.nodeId,
      leaseMs: this.config.poller.leaseSeconds * 1000,
      limit: 1000,
    });
    const total = await this.store.count(instance.id, objectType);
    if (objectType !== undefined && total === 0) throw new NotFoundError(`instance ${instance.id} does not poll an object type "${objectType}"`);
    if (rows.length === 0 && total > 0) throw new ConflictError('a poll of this instance is already running; try again when it ends');
    const objects: Awaited<ReturnType<Poller['pollNow']>>['objects'] = {};
    await Promise.all(
      rows.map(async (row) => {
        const p = this.run(row);
        this.track(row.id, p);
        const result = await p;
        // The database went away: the answer is 503 (try again), not a failed poll.
        if ('interrupted' in result) throw result.interrupted;
        const none = { fetched: 0, created: 0, updated: 0, deleted: 0 };
        objects[row.object_type] =
          'error' in result
            ? { ...none, error: result.error }
            : 'delayedUntil' in result
              ? { ...none, delayedUntil: new Date(result.delayedUntil).toISOString(), reason: result.reason }
              : {
                  fetched: result.fetched,
                  created: result.created,
                  updated: result.updated,
                  deleted: result.deleted,
                  ...(result.delayed ? { delayedUntil: new Date(result.delayed.until).toISOString(), reason: result.delayed.reason } : {}),
                };
      }),
    );
    return { objects };
  }

  private async renew(): Promise<void> {
    if (this.running.size === 0) return;
    const until = this.deps.clock.now() + this.config.poller.leaseSeconds * 1000;
    await this.store.renewLeases([...this.running.keys()], this.deps.nodeId, until);
  }

  private async run(row: ClaimedRow, claimed = false): Promise<Outcome> {
    await this.slots.acquire();
    if (claimed) this.claimedStarted();
    // Claimed ahead or queued for a slot when the node began to stop: stop() gave its lease back.
    if (this.stopping) {
      this.slots.release();
      return { error: 'the node is stopping' };
    }
    try {
      return await this.runInSlot(row, claimed);
    } finally {
      this.slots.release();
    }
  }

  private spreadOf(row: PollObjectRow): PollSpread {
    return { windowMs: this.config.poller.jitterSeconds * 1000, phase: pollPhase(row.instance_id, row.object_type) };
  }

  /**
   * Where the next interval counts from: the due time when the poll started late by less than an
   * interval, so a small lag does not push every later poll back by it (an instance stays polled
   * once each interval); the start after a longer stall, so a node catching up does not burst.
   * A scheduled poll that started a moment before its due time (claimed ahead, and its timer fired a
   * millisecond early, or this node's clock is behind the one that planned it) counts from its due
   * time too: counted from its start, the phase slot it was due on would be due again at once and
   * the object polled twice. Only a poll on request (poll now) counts from its start when early.
   */
  private cadenceFrom(row: ClaimedRow, startedAt: number, scheduled: boolean): number {
    const late = startedAt - row.next_poll_at;
    return (late >= 0 || scheduled) && late < Number(row.interval_ms) ? row.next_poll_at : startedAt;
  }

  /**
   * Polls one claimed row (`scheduled`: claimed as due, not on request) and records the outcome;
   * never throws (a database error is returned as `interrupted`).
   */
  private async runInSlot(row: ClaimedRow, scheduled: boolean): Promise<Outcome> {
    const startedAt = this.deps.clock.now();
    if (row.next_poll_at <= startedAt) {
      const lagMs = startedAt - row.next_poll_at;
      this.deps.metrics?.pollLag.observe(lagMs / 1000);
    }
    const base = { last_poll_at: startedAt, last_node: this.deps.nodeId, lease_owner: null, lease_expires_at: null };
    try {
      const { instance, connector, settings } = await this.deps.instances.forWork(row.instance_id);
      const summary = await pollObject(this.deps, { row, instance, connector, settings, startedAt });
      const finishedAt = this.deps.clock.now();
      this.deps.metrics?.polls.inc({ result: 'ok' });
      this.deps.metrics?.pollDuration.observe((finishedAt - startedAt) / 1000);
      this.deps.metrics?.events.inc({ source: 'polling' }, summary.created + summary.updated + summary.deleted);
      const outcome = {
        ...base,
        ...summary.state,
        last_duration_ms: finishedAt - startedAt,
        last_fetched: summary.fetched,
        last_created: summary.created,
        last_updated: summary.updated,
        last_deleted: summary.deleted,
        last_error: null,
        failures: 0,
        // A poll that outlasts its interval delays the next one rather than stacking; one cut by
        // the rate budget goes on when the budget returns, one cut by maxPages at once.
        next_poll_at: summary.delayed
          ? Math.max(summary.delayed.until, finishedAt)
          : summary.complete || summary.stalled
            ? Math.max(nextPollTime(this.cadenceFrom(row, startedAt, scheduled), settings, Number(row.interval_ms), this.spreadOf(row)), finishedAt)
            : finishedAt,
      };
      const written = await this.record(row.id, outcome, true);
      // The lease went while polling (the node is stopping, or it expired): the poll's events are
      // committed, so its watermark and listing state still move on — else the next poll would
      // count as a first one again.
      if (!written) await this.record(row.id, summary.state, false);
      // A thin notification that came while this poll ran may name a change it did not see: poll again.
      if (connector.events?.webhook?.pollOnNotification?.includes(row.object_type)) await this.store.pollAgainIfAsked(row.id, startedAt, finishedAt);
      return summary;
    } catch (err) {
      if (err instanceof RateBudgetWait) return this.delay(row, base, err);
      if (isDatabaseUnavailable(err)) return this.interrupted(row, err as Error);
      const message = describeError(err);
      this.deps.metrics?.polls.inc({ result: 'error' });
      const failures = row.failures + 1;
      const now = this.deps.clock.now();
      const retryAfterMs = err instanceof ProviderError && err.retryAfterSeconds ? err.retryAfterSeconds * 1000 : 0;
      const backoff = backoffMs(failures, this.config.poller.backoffBaseSeconds, this.config.poller.backoffMaxSeconds);
      this.log.warn({ instanceId: row.instance_id, objectType: row.object_type, failures, err: message }, 'poll failed');
      // Only under this node's lease: one that ran out while polling may be another poll's now, and
      // clearing it would free the object for a third while that one runs.
      await this.record(
        row.id,
        {
          ...base,
          last_duration_ms: now - startedAt,
          last_error: message,
          last_error_at: now,
          failures,
          next_poll_at: now + Math.max(row.interval_ms, backoff, retryAfterMs),
        },
        true,
      ).catch((e) => this.recordFailed(e, 'could not record a poll failure'));
      return { error: message };
    }
  }

  /**
   * The database failed under the poll: neither a failure of the object (no back-off, no
   * `lastError`) nor an outcome to record. Its lease is given back so that it runs again as soon
   * as the database answers; if that cannot be written either, the lease expires.
   */
  private async interrupted(row: ClaimedRow, err: Error): Promise<Interrupted> {
    this.deps.metrics?.errors.inc({ component: 'poll', kind: 'database_unavailable' });
    this.log.warn({ instanceId: row.instance_id, objectType: row.object_type, err: err.message }, 'poll interrupted: the database is unavailable');
    await this.giveBack([row.id]);
    return { interrupted: err };
  }

  /** Reschedules a poll (under this node's lease) to when its scope's budget returns, keeping its errors and back-off as they were. */
  private async delay(row: ClaimedRow, base: Record<string, unknown>, wait: RateBudgetWait): Promise<Delayed> {
    this.deps.metrics?.polls.inc({ result: 'delayed' });
    this.log.debug(
      { instanceId: row.instance_id, objectType: row.object_type, scope: wait.scope, until: new Date(wait.until).toISOString(), reason: wait.reason },
      'poll delayed by the rate budget',
    );
    await this.record(row.id, { ...base, next_poll_at: Math.max(wait.until, this.deps.clock.now()) }, true).catch((e) =>
      this.recordFailed(e, 'could not reschedule a delayed poll'),
    );
    return { delayedUntil: wait.until, reason: wait.reason };
  }

  /** A write or read the polls can do without (an outcome: the lease brings the poll back): logged and counted. */
  private recordFailed(err: unknown, message: string, component = 'poll'): void {
    const kind = errorKind(err);
    this.deps.metrics?.errors.inc({ component, kind });
    if (kind === 'database_unavailable') this.log.warn({ err: (err as Error).message }, `${message}: the database is unavailable`);
    else this.log.error({ err }, message);
  }

  /** Writes a poll's outcome columns with those of the polls finishing with it; `guarded`: only under this node's lease. Resolves to whether it was written. */
  private record(id: number, patch: Record<string, unknown>, guarded: boolean): Promise<boolean> {
    return this.outcomes.submit({ id, patch, guarded });
  }

  private async writeOutcomes(items: OutcomeWrite[]): Promise<boolean[]> {
    const rows = (guarded: boolean) => items.filter((i) => i.guarded === guarded).map((i) => ({ ...i.patch, id: i.id }));
    const guarded = rows(true);
    const unguarded = rows(false);
    const written = guarded.length > 0 ? await this.store.updateMany(guarded, this.deps.nodeId) : new Set<number>();
    const alsoWritten = unguarded.length > 0 ? await this.store.updateMany(unguarded) : new Set<number>();
    return items.map((i) => (i.guarded ? written : alsoWritten).has(i.id));
  }
}

function describeError(err: unknown): string {
  if (err instanceof ProviderError) {
    const status = err.status ? `HTTP ${err.status}` : (err.code ?? 'network error');
    return `${status} from the provider after ${err.attempts} attempt(s): ${err.message}`.slice(0, 1000);
  }
  return (err instanceof Error ? err.message : String(err)).slice(0, 1000);
}
