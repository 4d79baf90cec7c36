import type { Feature, GatewayContext } from '../feature.js';
import { WorkerLoop } from '../lib/worker-loop.js';

/**
 * The retention job: deletes what has outlived its retention setting, a batch at a time so no
 * transaction grows large. Each store prunes its own tables; this loop only says when and with
 * which cutoffs. Only finished work is ever deleted: notifications delivered longer ago than
 * `delivery.retentionDays` (undelivered and dead ones stay: they are replayable), events whose
 * notification is delivered (or that have none), receipts already mapped or given up on, request
 * log entries, connect sessions expired long ago, and snapshots of object types an instance no longer polls. Every node may run it:
 * deleting twice is harmless.
 */
const DAY = 24 * 60 * 60 * 1000;

export interface RetentionResult {
  notifications: number;
  events: number;
  webhookReceipts: number;
  requestLog: number;
  snapshots: number;
  connectSessions: number;
}

export type RetentionDeps = Pick<GatewayContext, 'config' | 'clock' | 'log' | 'metrics'> & {
  stores: Pick<GatewayContext['stores'], 'events' | 'receipts' | 'requestLog' | 'snapshots' | 'connectSessions'>;
};

class RetentionLoop extends WorkerLoop {
  constructor(private readonly deps: RetentionDeps) {
    super({ name: 'retention', tickSeconds: () => deps.config.retention.intervalMinutes * 60, log: deps.log, metrics: deps.metrics });
  }

  /** One pass of every store's prune, with the cutoffs the settings give now. */
  async prune(): Promise<RetentionResult> {
    const { config, clock, stores } = this.deps;
    const now = clock.now();
    const before = (days: number) => now - days * DAY;
    const settings = config.retention;
    // Notifications first: the events they leave without one are then past their own cutoff.
    const notifications = await stores.events.pruneDelivered(before(config.delivery.retentionDays));
    const events = await stores.events.pruneEvents(before(settings.eventsDays));
    const webhookReceipts = await stores.receipts.prune(before(settings.webhookReceiptsDays));
    const requestLog = await stores.requestLog.prune(before(settings.requestLogDays));
    const snapshots = await stores.snapshots.prune();
    const connectSessions = await stores.connectSessions.prune(before(settings.connectSessionsDays));
    return { notifications, events, webhookReceipts, requestLog, snapshots, connectSessions };
  }

  protected async pass(): Promise<number> {
    const deleted = await this.prune();
    this.deps.log.info({ deleted }, 'retention applied');
    return Object.values(deleted).reduce((a, b) => a + b, 0);
  }
}

export function createRetentionFeature(deps: RetentionDeps): Feature & { prune(): Promise<RetentionResult>; loop: WorkerLoop } {
  const loop = new RetentionLoop(deps);
  return {
    name: 'retention',
    loop,
    prune: () => loop.prune(),
    start: () => {
      if (deps.config.retention.enabled) loop.start();
    },
    // A pass under way finishes (each of its deletes is a short batch), whatever the grace period.
    stop: () => loop.stop(Infinity),
  };
}

export type RetentionFeature = ReturnType<typeof createRetentionFeature>;
