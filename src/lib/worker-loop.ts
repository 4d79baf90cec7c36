import { everySeconds, type Ticker } from '../clock.js';
import { errorKind } from '../db/errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';

export interface WorkerLoopOptions {
  /** For logs: "poll", "delivery", … */
  name: string;
  /** Read at each start, so a loop follows its settings. */
  tickSeconds: () => number;
  log: Logger;
  /** Where this loop's claims are leased: work still in flight when it stops is given back. */
  leases?: { owner: string; release(ids: Array<number | string>, owner: string): Promise<unknown> };
  /** Counts failed passes (`pollgate_errors_total`, the loop's name, dashed, as component). */
  metrics?: Pick<Metrics, 'errors'>;
}

/**
 * The one shape of the background loops (polls, deliveries, webhook mapping, schedules): an
 * unref'd timer calls `tick`; a tick runs one pass — claim due rows with a lease, run them,
 * record each outcome — and ticks never overlap (a call while a pass runs shares that pass).
 * `stop` stops claiming, waits up to a grace period for the pass and the work in flight, then
 * gives back the leases of what did not finish. `start` and `stop` are safe to call twice.
 */
export abstract class WorkerLoop {
  private ticker: Ticker | undefined;
  private currentPass: Promise<number> | undefined;
  private stopRequested = false;
  /** kick() was called while a pass ran: another pass follows it. */
  private kickedDuringPass = false;
  /** Work in flight by the id of its claimed row (its lease is released if the node stops first). */
  protected readonly running = new Map<number | string, Promise<unknown>>();

  constructor(private readonly loop: WorkerLoopOptions) {}

  /** One pass: claims and runs due work; resolves to how much it claimed or did. */
  protected abstract pass(): Promise<number>;

  start(): void {
    if (this.ticker) return;
    this.stopRequested = false;
    this.ticker = everySeconds(this.loop.tickSeconds(), () => this.tick());
  }

  /** Whether the timer runs (`start` was called and `stop` was not since). */
  get started(): boolean {
    return this.ticker !== undefined;
  }

  /** Whether `stop` was called: a pass stops claiming and queued work does not begin. */
  protected get stopping(): boolean {
    return this.stopRequested;
  }

  /** Stops claiming; waits up to `graceMs` (Infinity: until done) for running work, then gives back the rest. */
  async stop(graceMs = 0): Promise<void> {
    this.stopRequested = true;
    this.ticker?.cancel();
    this.ticker = undefined;
    const all = Promise.allSettled([this.currentPass, ...this.running.values()]);
    if (graceMs === Infinity) await all;
    else if (graceMs > 0) await Promise.race([all, new Promise((r) => setTimeout(r, graceMs).unref())]);
    const leases = this.loop.leases;
    if (leases && this.running.size > 0) await leases.release([...this.running.keys()], leases.owner).catch((err) => this.leasesNotReleased(err));
  }

  /** Gives back the leases of claimed work that will not run here (it is due again at once). */
  protected async giveBack(ids: Array<number | string>): Promise<void> {
    const leases = this.loop.leases;
    if (leases && ids.length > 0) await leases.release(ids, leases.owner).catch((err) => this.leasesNotReleased(err));
  }

  /** One pass now; a call while a pass runs shares it. A failing pass is logged, counted in metrics, and counts 0. */
  tick(): Promise<number> {
    if (this.stopRequested) return Promise.resolve(0);
    this.currentPass ??= this.pass()
      .catch((err) => {
        const kind = errorKind(err);
        this.loop.metrics?.errors.inc({ component: this.loop.name.replaceAll(' ', '-'), kind });
        // The database away is an outage to watch, not a bug: the next tick tries again.
        if (kind === 'database_unavailable') this.loop.log.warn({ err: (err as Error).message }, `${this.loop.name} tick failed: the database is unavailable`);
        else this.loop.log.error({ err }, `${this.loop.name} tick failed`);
        return 0;
      })
      .finally(() => {
        this.currentPass = undefined;
        if (this.kickedDuringPass) {
          this.kickedDuringPass = false;
          this.kick();
        }
      });
    return this.currentPass;
  }

  /**
   * A pass without waiting for the next tick (new work just arrived); only while started. A pass
   * already running may have claimed before the work arrived: another one follows it.
   */
  kick(): void {
    if (!this.ticker || this.stopRequested) return;
    if (this.currentPass) this.kickedDuringPass = true;
    else setImmediate(() => void this.tick());
  }

  /** Resolves when every piece of work started so far is done (tests and benchmarks). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  /**
   * Leases that could not be given back expire on their own (the work is then due again): logged,
   * not thrown (and not counted again: the failure that stopped the work was).
   */
  private leasesNotReleased(err: unknown): void {
    this.loop.log.warn({ err: (err as Error).message }, `${this.loop.name}: claims could not be given back; they are due again when their lease expires`);
  }

  /** Tracks work on a claimed row until it settles. */
  protected track(id: number | string, work: Promise<unknown>): void {
    this.running.set(id, work);
    const done = () => {
      if (this.running.get(id) === work) this.running.delete(id);
    };
    work.then(done, done);
  }
}
