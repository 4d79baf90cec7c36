import type { GatewayContext, Feature } from '../context.js';
import { recordEvents, type NewEvent } from '../events/record.js';
import { hashRecord } from '../lib/stable-hash.js';
import { parseWebhookBody } from './parse-body.js';
import { mapWebhookBody, type WebhookEventsMapping } from './mapping.js';
import { retryDeregistrations } from './registration.js';
import { backoffMs } from '../lib/backoff.js';
import { WorkerLoop } from '../lib/worker-loop.js';
import type { ClaimedReceipt, DeregistrationStore, ReceiptStore } from './store.js';

/**
 * Maps stored webhook bodies to events, after the 202. A receipt is claimed with a lease like any
 * due work, so a crash between the answer and the mapping only delays it: the next tick (here or
 * on another node) maps it. Mapping, events and the receipt's new status are one transaction.
 *
 * Reconciliation with polling: each mapped record's hash goes into the same snapshot the poller
 * diffs against, so a change seen by webhook is not raised again by the safety-net poll, and a
 * webhook repeating what a poll already raised is dropped.
 */
const MAX_ATTEMPTS = 5;

export class WebhookProcessor extends WorkerLoop implements Feature {
  readonly name = 'webhooks';

  constructor(
    private readonly ctx: GatewayContext,
    private readonly receipts: ReceiptStore,
    private readonly deregistrations: DeregistrationStore,
  ) {
    super({ name: 'webhook processing', tickSeconds: () => 1, log: ctx.log });
  }

  protected async pass(): Promise<number> {
    const { clock, nodeId, config } = this.ctx;
    let done = 0;
    for (;;) {
      const rows = await this.receipts.claimDue({ now: clock.now(), owner: nodeId, leaseMs: config.webhooks.leaseSeconds * 1000, limit: config.webhooks.concurrency * 4 });
      if (rows.length === 0 || this.stopping) {
        if (rows.length) await this.receipts.releaseLeases(rows.map((r) => r.id), nodeId);
        break;
      }
      for (const row of rows) {
        await this.process(row);
        done++;
      }
    }
    await retryDeregistrations(this.ctx, this.deregistrations);
    return done;
  }

  private async process(row: ClaimedReceipt): Promise<void> {
    const { clock, config, instances, log } = this.ctx;
    const now = clock.now();
    try {
      const { instance, connector, settings } = await instances.forWork(row.instance_id);
      const mapping = connector.events?.webhook?.events as WebhookEventsMapping | undefined;
      if (!mapping) throw new Error(`connector "${connector.key}" declares no webhook event mapping`);
      const body = parseWebhookBody(Buffer.from(row.body, 'utf8'), row.content_type ?? undefined);
      const headers = JSON.parse(row.headers) as Record<string, string>;
      const { events: mapped, unmapped } = mapWebhookBody(mapping, body, headers, row.received_at);

      await this.receipts.transaction(async (trx) => {
        const events: NewEvent[] = [];
        for (const e of mapped) {
          const key = { instance_id: instance.id, object_type: e.objectType, object_id: e.objectId };
          const change = e.eventType === 'DELETED' ? { deleted: true as const } : e.record !== undefined ? { hash: hashRecord(e.record) } : undefined;
          // Already raised (by a poll or an earlier webhook): not raised again.
          if (!(await this.receipts.reconcileSnapshot(trx, key, change, now))) continue;
          events.push({ eventType: e.eventType, objectType: e.objectType, objectId: e.objectId, date: e.date, raw: e.raw });
        }
        await recordEvents(trx, { id: instance.id, name: instance.name, elementKey: instance.elementKey }, events, {
          source: 'webhook', now, notify: settings.notificationsEnabled, maxPerNotification: config.delivery.maxEventsPerNotification.webhook, providerBody: body,
          // The receipt's headers were redacted when stored.
          received: { at: Number(row.received_at), headers },
        });
        await this.receipts.markProcessed(trx, row.id, {
          eventsCount: events.length, unmapped: unmapped.length ? JSON.stringify(unmapped.map((u) => ({ index: u.index, reason: u.reason }))) : null, now, attempts: row.attempts + 1,
        });
      });
      this.ctx.metrics.events.inc({ source: 'webhook' }, mapped.length);
    } catch (err) {
      const attempts = row.attempts + 1;
      const failed = attempts >= MAX_ATTEMPTS;
      log.warn({ receiptId: row.id, instanceId: row.instance_id, attempts, err: (err as Error).message }, 'webhook mapping failed');
      await this.receipts.markFailed(row.id, {
        failed, reason: (err as Error).message.slice(0, 1000), attempts, nextAttemptAt: now + backoffMs(attempts, config.webhooks.mappingBackoffBaseSeconds, config.webhooks.mappingBackoffMaxSeconds),
      });
    }
  }
}
