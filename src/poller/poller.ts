import type { Config } from '../config/index.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { backoffMs } from '../lib/backoff.js';
import { WorkerLoop } from '../lib/worker-loop.js';
import type { InstanceService } from '../instances/service.js';
import type { ConnectorCatalog } from '../connectors/catalog.js';
import type { Metrics } from '../metrics.js';
import { ProviderError } from '../provider/http-client.js';
import { RateBudgetWait } from '../provider/rate-budget.js';
import { nextPollTime, pollPhase, type PollSpread } from './plan.js';
import { pollObject, type PollDeps, type PollObjectRow, type PollSummary } from './poll.js';
import type { PollStateStore } from './store.js';

/**
 * The scheduler (a WorkerLoop): each tick claims due objects with a lease (so a run of
 * one object never overlaps another, here or on another node) and polls them, at most
 * `poller.concurrency` at a time. Errors are recorded on the object and back it off; they never
 * stop the loop or other objects. `pollNow` runs the same code for one instance on request.
 */
interface ClaimedRow extends PollObjectRow {
  failures: number;
  next_poll_at: number;
}

/** A poll that waits for its provider scope's rate budget: it runs again then, and is not an error. */
type Delayed = { delayedUntil: number; reason: string };
type Outcome = PollSummary | Delayed | { error: string };

const MAX_CLAIMED = 1000;

export class Poller extends WorkerLoop {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  /** Recent scheduling lags (claim time − due time, ms) for the benchmark's percentiles. */
  readonly lags: number[] = [];

  constructor(private readonly deps: PollDeps & { clock: Clock; nodeId: string; instances: InstanceService; catalog?: ConnectorCatalog; metrics?: Metrics }) {
    super({
      name: 'poll',
      tickSeconds: () => deps.config.poller.tickSeconds,
      log: deps.log,
      leases: deps.stores.pollState.pollLeases(deps.nodeId),
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

  /** One scheduling pass: renews the leases held, claims what is due and starts it. */
  protected async pass(): Promise<number> {
    await this.renew();
    // A connector replaced on another node is what this tick's polls use.
    await this.deps.catalog?.sync();
    // Claimed polls wait for one of `concurrency` slots; a tick may claim up to a second's worth
    // of due work (MAX_CLAIMED bounds what a node holds, so others can share the load).
    const free = MAX_CLAIMED - this.running.size;
    if (free <= 0) return 0;
    const now = this.deps.clock.now();
    // Look ahead one tick: a poll due before the next tick is claimed now and started at its
    // due time, so the tick's granularity does not become scheduling lag.
    const lookAheadMs = this.started ? this.config.poller.tickSeconds * 1000 : 0;
    const rows = await this.store.claimDue<ClaimedRow>({
      dueBy: now + lookAheadMs,
      now,
      owner: this.deps.nodeId,
      leaseMs: this.config.poller.leaseSeconds * 1000 + lookAheadMs,
      limit: free,
    });
    for (const row of rows) {
      const wait = Math.max(0, row.next_poll_at - now);
      const started = wait === 0 ? this.run(row) : new Promise<void>((r) => setTimeout(r, wait).unref()).then(() => this.run(row));
      this.track(row.id, started);
    }
    return rows.length;
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

  /** At most `poller.concurrency` polls run at once; the others queue here in claim order. */
  private async slot(): Promise<void> {
    if (this.active < this.config.poller.concurrency) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next)
      next(); // hand the slot over
    else this.active--;
  }

  private async run(row: ClaimedRow): Promise<Outcome> {
    await this.slot();
    // Claimed ahead or queued for a slot when the node began to stop: stop() gave its lease back.
    if (this.stopping) {
      this.release();
      return { error: 'the node is stopping' };
    }
    try {
      return await this.runInSlot(row);
    } finally {
      this.release();
    }
  }

  private spreadOf(row: PollObjectRow): PollSpread {
    return { windowMs: this.config.poller.jitterSeconds * 1000, phase: pollPhase(row.instance_id, row.object_type) };
  }

  /** Polls one claimed row and records the outcome; never throws. */
  private async runInSlot(row: ClaimedRow): Promise<Outcome> {
    const startedAt = this.deps.clock.now();
    if (row.next_poll_at <= startedAt) {
      const lagMs = startedAt - row.next_poll_at;
      this.lags.push(lagMs);
      if (this.lags.length > 100_000) this.lags.splice(0, 50_000);
      this.deps.metrics?.pollLag.observe(lagMs / 1000);
    }
    const base = { last_poll_at: startedAt, last_node: this.deps.nodeId, lease_owner: null, lease_expires_at: null };
    try {
      const { instance, connector, settings } = await this.deps.instances.forWork(row.instance_id);
      const summary = await pollObject(this.deps, row, instance, connector, settings, startedAt);
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
          : summary.complete
            ? Math.max(nextPollTime(startedAt, settings, Number(row.interval_ms), this.spreadOf(row)), finishedAt)
            : finishedAt,
      };
      const written = await this.store.update(row.id, outcome, this.deps.nodeId);
      // The lease went while polling (the node is stopping, or it expired): the poll's events are
      // committed, so its watermark and listing state still move on — else the next poll would
      // count as a first one again.
      if (written === 0) await this.store.update(row.id, summary.state);
      return summary;
    } catch (err) {
      if (err instanceof RateBudgetWait) return this.delay(row, base, err);
      const message = describeError(err);
      this.deps.metrics?.polls.inc({ result: 'error' });
      const failures = row.failures + 1;
      const now = this.deps.clock.now();
      const retryAfterMs = err instanceof ProviderError && err.retryAfterSeconds ? err.retryAfterSeconds * 1000 : 0;
      const backoff = backoffMs(failures, this.config.poller.backoffBaseSeconds, this.config.poller.backoffMaxSeconds);
      this.log.warn({ instanceId: row.instance_id, objectType: row.object_type, failures, err: message }, 'poll failed');
      await this.store
        .update(row.id, {
          ...base,
          last_duration_ms: now - startedAt,
          last_error: message,
          last_error_at: now,
          failures,
          next_poll_at: now + Math.max(row.interval_ms, backoff, retryAfterMs),
        })
        .catch((e) => this.log.error({ err: e }, 'could not record a poll failure'));
      return { error: message };
    }
  }

  /** Reschedules a poll to when its scope's budget returns, keeping its errors and back-off as they were. */
  private async delay(row: ClaimedRow, base: Record<string, unknown>, wait: RateBudgetWait): Promise<Delayed> {
    this.deps.metrics?.polls.inc({ result: 'delayed' });
    this.log.debug(
      { instanceId: row.instance_id, objectType: row.object_type, scope: wait.scope, until: new Date(wait.until).toISOString(), reason: wait.reason },
      'poll delayed by the rate budget',
    );
    await this.store
      .update(row.id, { ...base, next_poll_at: Math.max(wait.until, this.deps.clock.now()) })
      .catch((e) => this.log.error({ err: e }, 'could not reschedule a delayed poll'));
    return { delayedUntil: wait.until, reason: wait.reason };
  }
}

function describeError(err: unknown): string {
  if (err instanceof ProviderError) {
    const status = err.status ? `HTTP ${err.status}` : (err.code ?? 'network error');
    return `${status} from the provider after ${err.attempts} attempt(s): ${err.message}`.slice(0, 1000);
  }
  return (err instanceof Error ? err.message : String(err)).slice(0, 1000);
}
