import type { GatewayContext, Feature } from '../context.js';
import { claimDue, releaseLeases } from '../db/lease.js';
import { recordEvents, type NewEvent } from '../events/record.js';
import { hashRecord } from '../lib/stable-hash.js';
import { parseWebhookBody } from './parse-body.js';
import { mapWebhookBody, type WebhookEventsMapping } from './mapping.js';
import { retryDeregistrations } from './registration.js';
import { backoffMs } from '../lib/backoff.js';
import { WorkerLoop } from '../lib/worker-loop.js';

/**
 * Maps stored webhook bodies to events, after the 202. A receipt is claimed with a lease like any
 * due work, so a crash between the answer and the mapping only delays it: the next tick (here or
 * on another node) maps it. Mapping, events and the receipt's new status are one transaction.
 *
 * Reconciliation with polling: each mapped record's hash goes into the same snapshot the poller
 * diffs against, so a change seen by webhook is not raised again by the safety-net poll, and a
 * webhook repeating what a poll already raised is dropped.
 */
interface ReceiptRow {
  id: number;
  instance_id: number;
  received_at: number;
  content_type: string | null;
  headers: string;
  body: string;
  attempts: number;
}

const MAX_ATTEMPTS = 5;

export class WebhookProcessor extends WorkerLoop implements Feature {
  readonly name = 'webhooks';

  constructor(private readonly ctx: GatewayContext) {
    super({ name: 'webhook processing', tickSeconds: () => 1, log: ctx.log });
  }

  protected async pass(): Promise<number> {
    const { db, clock, nodeId, config } = this.ctx;
    let done = 0;
    for (;;) {
      const rows = await claimDue<ReceiptRow>(db, {
        table: 'webhook_receipts', dueColumn: 'next_attempt_at', now: clock.now(), owner: nodeId,
        leaseMs: config.webhooks.leaseSeconds * 1000, limit: config.webhooks.concurrency * 4,
        where: (q) => q.where('status', 'pending'),
        orderBy: [{ column: 'id' }],
      });
      if (rows.length === 0 || this.stopping) {
        if (rows.length) await releaseLeases(db, 'webhook_receipts', rows.map((r) => r.id), nodeId);
        break;
      }
      for (const row of rows) {
        await this.process(row);
        done++;
      }
    }
    await retryDeregistrations(this.ctx);
    return done;
  }

  private async process(row: ReceiptRow): Promise<void> {
    const { db, clock, config, instances, log } = this.ctx;
    const now = clock.now();
    try {
      const { instance, connector, settings } = await instances.forWork(row.instance_id);
      const mapping = connector.events?.webhook?.events as WebhookEventsMapping | undefined;
      if (!mapping) throw new Error(`connector "${connector.key}" declares no webhook event mapping`);
      const body = parseWebhookBody(Buffer.from(row.body, 'utf8'), row.content_type ?? undefined);
      const headers = JSON.parse(row.headers) as Record<string, string>;
      const { events: mapped, unmapped } = mapWebhookBody(mapping, body, headers, row.received_at);

      await db.transaction(async (trx) => {
        const events: NewEvent[] = [];
        for (const e of mapped) {
          const record = e.record;
          const key = { instance_id: instance.id, object_type: e.objectType, object_id: e.objectId };
          if (e.eventType === 'DELETED') {
            await trx('snapshots').where(key).delete();
          } else if (record !== undefined) {
            const hash = hashRecord(record);
            const known = (await trx('snapshots').where(key).first('hash')) as { hash: string } | undefined;
            if (known?.hash === hash) continue; // already raised (by a poll or an earlier webhook)
            await trx('snapshots').insert({ ...key, hash, seen_at: now }).onConflict(['instance_id', 'object_type', 'object_id']).merge(['hash', 'seen_at']);
          }
          events.push({ eventType: e.eventType, objectType: e.objectType, objectId: e.objectId, date: e.date, raw: e.raw });
        }
        await recordEvents(trx, { id: instance.id, name: instance.name, elementKey: instance.elementKey }, events, {
          source: 'webhook', now, notify: settings.notificationsEnabled, maxPerNotification: config.delivery.maxEventsPerNotification.webhook, providerBody: body,
          // The receipt's headers were redacted when stored.
          received: { at: Number(row.received_at), headers },
        });
        await trx('webhook_receipts').where({ id: row.id }).update({
          status: 'processed', events_count: events.length, unmapped: unmapped.length ? JSON.stringify(unmapped.map((u) => ({ index: u.index, reason: u.reason }))) : null,
          processed_at: now, lease_owner: null, lease_expires_at: null, attempts: row.attempts + 1,
        });
      });
      this.ctx.metrics.events.inc({ source: 'webhook' }, mapped.length);
    } catch (err) {
      const attempts = row.attempts + 1;
      const failed = attempts >= MAX_ATTEMPTS;
      log.warn({ receiptId: row.id, instanceId: row.instance_id, attempts, err: (err as Error).message }, 'webhook mapping failed');
      await db('webhook_receipts').where({ id: row.id }).update({
        status: failed ? 'failed' : 'pending', reason: (err as Error).message.slice(0, 1000), attempts,
        next_attempt_at: now + backoffMs(attempts, config.webhooks.mappingBackoffBaseSeconds, config.webhooks.mappingBackoffMaxSeconds), lease_owner: null, lease_expires_at: null,
      });
    }
  }
}
