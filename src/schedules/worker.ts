import type { SchedulesContext } from './context.js';
import type { Feature } from '../feature.js';
import { nextRecurrence, type ScheduleRow } from './model.js';
import { WorkerLoop } from '../lib/worker-loop.js';
import { errorKind } from '../db/errors.js';

/** Schedules claimed per query; a tick keeps claiming until fewer come back. */
const BATCH = 100;

/**
 * Fires due schedules. Each is claimed with a lease, and the firing (a notification queued for the
 * normal delivery path) and the schedule's advance are one transaction guarded by the lease, so a
 * schedule fires once however many workers or nodes run. A one-time schedule missed while the
 * gateway was down fires at the next tick; a recurring one fires once and moves to its next slot.
 */
export class Scheduler extends WorkerLoop implements Feature {
  readonly name = 'schedules';

  constructor(private readonly ctx: SchedulesContext) {
    super({ name: 'schedule', tickSeconds: () => ctx.config.schedules.tickSeconds, log: ctx.log, metrics: ctx.metrics });
  }

  override start(): void {
    if (this.ctx.config.schedules.enabled) super.start();
  }

  /** A firing is one short transaction: stopping always waits for the pass. */
  override stop(): Promise<void> {
    return super.stop(Infinity);
  }

  protected async pass(): Promise<number> {
    const { clock, nodeId, config, log } = this.ctx;
    let fired = 0;
    // Claim in batches until nothing more is due (after downtime many may be).
    for (;;) {
      const now = clock.now();
      const rows = await this.ctx.stores.schedules.claimDue({ now, owner: nodeId, leaseMs: config.schedules.leaseSeconds * 1000, limit: BATCH });
      for (const row of rows) {
        try {
          if (await this.fire(row, now)) fired++;
        } catch (err) {
          // Left leased: it is claimed again when the lease expires.
          this.ctx.metrics.errors.inc({ component: 'schedule', kind: errorKind(err) });
          log.error({ err, instanceId: row.instance_id, scheduleName: row.name }, 'firing a schedule failed');
        }
      }
      if (rows.length < BATCH) break;
    }
    return fired;
  }

  /**
   * Queues the notification and advances the schedule in one transaction, only while this node
   * still holds the lease (a PUT or DELETE meanwhile releases or removes it: the change wins).
   */
  private async fire(row: ScheduleRow, now: number): Promise<boolean> {
    const { nodeId, log, instances } = this.ctx;
    const { instance, settings } = await instances.forWork(row.instance_id);
    const next = row.repeat_unit ? nextRecurrence(row, now) : null;
    const done = await this.ctx.stores.transaction(async (uow) => {
      if (!(await uow.schedules.advanceFired(row, { owner: nodeId, now, next }))) return false;
      // With notifications switched off (no callback) there is nowhere to send it: the firing is
      // counted, nothing is queued. A paused instance's notifications are queued and held.
      if (!settings.notificationsEnabled) return true;
      await uow.events.enqueueNotification({
        instanceId: instance.id,
        source: 'schedule',
        objectType: null,
        eventCount: 1,
        now,
        payload: {
          event: 'onScheduledEvent',
          instanceId: instance.id,
          elementKey: instance.elementKey,
          scheduleName: row.name,
          // Freshworks' epoch milliseconds; `date` is the same instant in ISO 8601.
          timestamp: now,
          date: new Date(now).toISOString(),
          data: JSON.parse(row.data),
        },
      });
      return true;
    });
    if (done && settings.notificationsEnabled) this.ctx.wakeUps.notify('delivery');
    if (done) log.info({ instanceId: instance.id, scheduleName: row.name, notified: settings.notificationsEnabled }, 'schedule fired');
    return done;
  }
}
