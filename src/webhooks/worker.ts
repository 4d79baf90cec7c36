import type { GatewayContext, Feature } from '../context.js';
import { recordEventGroups, type NewEvent } from '../events/record.js';
import type { InstanceWork } from '../instances/service.js';
import { hashRecord } from '../lib/stable-hash.js';
import { parseWebhookBody } from './parse-body.js';
import { mapWebhookBody, type WebhookEventsMapping } from './mapping.js';
import { groupBy } from '../lib/group-by.js';
import { retryDeregistrations } from './registration.js';
import { backoffMs } from '../lib/backoff.js';
import { WorkerLoop } from '../lib/worker-loop.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import type { ClaimedReceipt } from './store.js';

/**
 * Maps stored webhook bodies to events, after the 202. A receipt is claimed with a lease like any
 * due work, so a crash between the answer and the mapping only delays it: the next tick (here or
 * on another node) maps it. Mapping, events and the receipts' new status are one transaction per
 * claimed batch.
 *
 * Reconciliation with polling: each mapped record's hash goes into the same snapshot the poller
 * diffs against, so a change seen by webhook is not raised again by the safety-net poll, and a
 * webhook repeating what a poll already raised is dropped.
 */
const MAX_ATTEMPTS = 5;

/** A claimed receipt mapped to events, not yet recorded. */
type Mapped = { row: ClaimedReceipt; work: InstanceWork; body: unknown; headers: Record<string, string> } & ReturnType<typeof mapWebhookBody>;

export class WebhookProcessor extends WorkerLoop implements Feature {
  readonly name = 'webhooks';

  constructor(private readonly ctx: GatewayContext) {
    super({ name: 'webhook processing', tickSeconds: () => 1, log: ctx.log, metrics: ctx.metrics });
  }

  protected async pass(): Promise<number> {
    const { clock, nodeId, config } = this.ctx;
    let done = 0;
    for (;;) {
      const rows = await this.ctx.stores.receipts.claimDue({
        now: clock.now(),
        owner: nodeId,
        leaseMs: config.webhooks.leaseSeconds * 1000,
        limit: config.webhooks.concurrency * 4,
      });
      if (rows.length === 0 || this.stopping) {
        if (rows.length)
          await this.ctx.stores.receipts.releaseLeases(
            rows.map((r) => r.id),
            nodeId,
          );
        break;
      }
      await this.processBatch(rows);
      done += rows.length;
    }
    await retryDeregistrations(this.ctx, this.ctx.stores.deregistrations);
    return done;
  }

  /**
   * Maps a claimed batch and records all of it in one transaction (a handful of statements for the
   * batch, so ingress, which shares the database, waits little). Should that transaction fail,
   * each receipt is tried alone, so one bad receipt fails by itself. The database itself failing
   * is no receipt's fault: the pass stops, no attempt is counted, and the leases bring the receipts back.
   */
  private async processBatch(rows: ClaimedReceipt[]): Promise<void> {
    const mapped: Mapped[] = [];
    for (const row of rows) {
      try {
        mapped.push(await this.map(row));
      } catch (err) {
        await this.fail(row, err);
      }
    }
    if (mapped.length === 0) return;
    try {
      await this.record(mapped);
    } catch (err) {
      if (mapped.length === 1) return this.fail(mapped[0].row, err);
      for (const one of mapped) await this.record([one]).catch((e) => this.fail(one.row, e));
    }
  }

  private async map(row: ClaimedReceipt): Promise<Mapped> {
    const work = await this.ctx.instances.forWork(row.instance_id);
    const mapping = work.connector.events?.webhook?.events as WebhookEventsMapping | undefined;
    if (!mapping) throw new Error(`connector "${work.connector.key}" declares no webhook event mapping`);
    const body = parseWebhookBody(Buffer.from(row.body, 'utf8'), row.content_type ?? undefined);
    const headers = JSON.parse(row.headers) as Record<string, string>;
    return { row, work, body, headers, ...mapWebhookBody(mapping, body, headers, row.received_at) };
  }

  /** Snapshots, events, notifications and the receipts' new status, in one transaction. */
  private async record(batch: Mapped[]): Promise<void> {
    const { clock, config } = this.ctx;
    const now = clock.now();
    await this.ctx.stores.receipts.transaction(async (trx) => {
      const changes = batch.flatMap((m) =>
        m.events.map((e) => ({
          key: { instance_id: m.work.instance.id, object_type: e.objectType, object_id: e.objectId },
          change: e.eventType === 'DELETED' ? { deleted: true as const } : e.record !== undefined ? { hash: hashRecord(e.record) } : undefined,
        })),
      );
      const fresh = await this.ctx.stores.receipts.reconcileSnapshots(trx, changes, now);
      let i = 0;
      // Already raised (by a poll or an earlier webhook): not raised again.
      const raised = batch.map((m) =>
        m.events
          .filter(() => fresh[i++])
          .map((e): NewEvent => ({ eventType: e.eventType, objectType: e.objectType, objectId: e.objectId, date: e.date, raw: e.raw })),
      );
      for (const same of groupBy(
        batch.map((m, j) => ({ m, events: raised[j] })),
        (x) => x.m.work.instance.id,
      ).values()) {
        const { instance, settings } = same[0].m.work;
        await recordEventGroups(
          trx,
          { id: instance.id, name: instance.name, elementKey: instance.elementKey },
          same.map(({ m, events }) => ({
            events,
            options: {
              source: 'webhook' as const,
              now,
              notify: settings.notificationsEnabled,
              maxPerNotification: config.delivery.maxEventsPerNotification.webhook,
              providerBody: m.body,
              // The receipt's headers were redacted when stored.
              received: { at: Number(m.row.received_at), headers: m.headers },
            },
          })),
        );
      }
      await this.ctx.stores.receipts.markProcessed(
        trx,
        batch.map((m, j) => ({
          id: m.row.id,
          eventsCount: raised[j].length,
          attempts: m.row.attempts + 1,
          unmapped: m.unmapped.length ? JSON.stringify(m.unmapped.map((u) => ({ index: u.index, reason: u.reason }))) : null,
        })),
        now,
      );
    });
    this.ctx.metrics.events.inc(
      { source: 'webhook' },
      batch.reduce((n, m) => n + m.events.length, 0),
    );
  }

  private async fail(row: ClaimedReceipt, err: unknown): Promise<void> {
    if (isDatabaseUnavailable(err)) throw err;
    const { clock, config, log } = this.ctx;
    const attempts = row.attempts + 1;
    const failed = attempts >= MAX_ATTEMPTS;
    log.warn({ receiptId: row.id, instanceId: row.instance_id, attempts, err: (err as Error).message }, 'webhook mapping failed');
    await this.ctx.stores.receipts.markFailed(row.id, {
      failed,
      reason: (err as Error).message.slice(0, 1000),
      attempts,
      nextAttemptAt: clock.now() + backoffMs(attempts, config.webhooks.mappingBackoffBaseSeconds, config.webhooks.mappingBackoffMaxSeconds),
    });
  }
}
