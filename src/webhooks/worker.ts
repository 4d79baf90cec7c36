import type { WebhooksContext } from './context.js';
import type { Feature } from '../feature.js';
import type { NewEvent } from '../events/record.js';
import type { InstanceWork } from '../instances/service.js';
import { hashRecord } from '../lib/stable-hash.js';
import { parseWebhookBody } from './parse-body.js';
import { mapWebhookBody, type WebhookEventsMapping } from '../connectors/event-mapping.js';
import { groupBy } from '../lib/group-by.js';
import { retryDeregistrations } from './registration.js';
import { backoffMs } from '../lib/backoff.js';
import { WorkerLoop } from '../lib/worker-loop.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import type { ClaimedReceipt } from './store.js';
import { itemSecretCheck } from './item-secret.js';
import { applyLifecycle, lifecycleItemOf, type LifecycleItem } from './lifecycle.js';
import { fetchThinRecords } from './thin-fetch.js';

/**
 * Maps stored webhook bodies to events, after the 202. A receipt is claimed with a lease like any
 * due work, so a crash between the answer and the mapping only delays it: the next tick (here or
 * on another node) maps it. Mapping, events and the receipts' new status are one transaction per
 * group of receipts (bounded in bytes and events, so a batch of large bodies is never all in
 * memory at once).
 *
 * Every claim counts an attempt before mapping starts. A receipt whose mapping fails, or during
 * whose mapping the process died, is tried again with backoff, alone (so a body that crashes the
 * process takes no other receipt's attempts with it), and after `webhooks.maxAttempts` is parked
 * as `failed` for an operator to look at and retry.
 *
 * Reconciliation with polling: each mapped record's hash goes into the same snapshot the poller
 * diffs against, so a change seen by webhook is not raised again by the safety-net poll, and a
 * webhook repeating what a poll already raised is dropped.
 */

/** Receipts mapped per read of the bodies too large to come with the claim. */
const BODIES_AT_ONCE = 8;
/** A transaction is written once the mapped bodies waiting for it reach this size or this many events. */
const RECORD_BYTES = 4 * 1024 * 1024;
const RECORD_EVENTS = 5000;

/** A claimed receipt mapped to events, not yet recorded. */
type Mapped = { row: ClaimedReceipt; work: InstanceWork; bytes: number; headers: Record<string, string> } & ReturnType<typeof mapWebhookBody>;

export class WebhookProcessor extends WorkerLoop implements Feature {
  readonly name = 'webhooks';

  constructor(private readonly ctx: WebhooksContext) {
    super({ name: 'webhook processing', tickSeconds: () => ctx.config.webhooks.tickSeconds, log: ctx.log, metrics: ctx.metrics });
    ctx.metrics.sources.failedReceipts = () => ctx.stores.receipts.countFailed();
  }

  /** When receipts tried before and deregistrations were last looked at (wall clock). */
  private lastSweep = 0;

  protected async pass(): Promise<number> {
    const { config } = this.ctx;
    const batch = config.webhooks.concurrency * 4;
    // A pass woken by new receipts maps them and ends; receipts due for another attempt (their
    // backoff is seconds long) and deregistrations are looked at once a tick, so a steady stream
    // of wake-ups does not pay those statements each time (ticks driven by hand always look).
    const sweep = !this.started || Date.now() - this.lastSweep >= config.webhooks.tickSeconds * 1000;
    if (sweep) this.lastSweep = Date.now();
    let done = 0;
    // First attempts in batches; once they are drained, receipts tried before, one at a time.
    while (!this.stopping) {
      const fresh = await this.claimAndMap(false, batch);
      done += fresh.length;
      if (fresh.length === batch) continue;
      if (this.stopping || !sweep) break;
      const retried = await this.claimAndMap(true, 1);
      done += retried.length;
      if (retried.length === 0) break;
    }
    if (sweep) await retryDeregistrations(this.ctx, this.ctx.stores.deregistrations);
    return done;
  }

  /** Claims and processes up to `limit` due receipts; answers them. */
  private async claimAndMap(retried: boolean, limit: number): Promise<ClaimedReceipt[]> {
    const { clock, nodeId, config } = this.ctx;
    const rows = await this.ctx.stores.receipts.claimDue({ now: clock.now(), owner: nodeId, leaseMs: config.webhooks.leaseSeconds * 1000, limit, retried });
    if (rows.length === 0) return rows;
    try {
      await this.processBatch(rows);
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      // The database failing is no receipt's fault: the claims go back uncounted where it still
      // answers (else their leases bring them back), and the pass stops.
      await this.ctx.stores.receipts
        .releaseClaims(
          rows.map((r) => r.id),
          nodeId,
        )
        .catch(() => undefined);
      throw err;
    }
    return rows;
  }

  /**
   * Maps a claimed batch, a few bodies at a time, and records it in as few transactions as its
   * size allows (a handful of statements each, so ingress, which shares the database, waits
   * little). Should a transaction fail, each of its receipts is tried alone, so one bad receipt
   * fails by itself.
   */
  private async processBatch(rows: ClaimedReceipt[]): Promise<void> {
    const { maxAttempts } = this.ctx.config.webhooks;
    let waiting: Mapped[] = [];
    let bytes = 0;
    let events = 0;
    const flush = async () => {
      const batch = waiting;
      waiting = [];
      bytes = 0;
      events = 0;
      await this.record(batch);
    };
    for (let i = 0; i < rows.length; i += BODIES_AT_ONCE) {
      if (this.stopping) {
        await flush();
        await this.ctx.stores.receipts.releaseClaims(
          rows.slice(i).map((r) => r.id),
          this.ctx.nodeId,
        );
        return;
      }
      const group: ClaimedReceipt[] = [];
      for (const row of rows.slice(i, i + BODIES_AT_ONCE)) {
        // Claimed more often than allowed: the earlier attempts never finished (the process died).
        if (row.attempts > maxAttempts) await this.park(row, maxAttempts);
        else group.push(row);
      }
      const large = group.filter((r) => r.body === null).map((r) => r.id);
      const bodies = large.length > 0 ? await this.ctx.stores.receipts.bodies(large) : new Map<number, string>();
      for (const row of group) {
        const body = row.body ?? bodies.get(row.id) ?? '';
        // The claimed row does not keep its body: once mapped, the events hold what they need.
        row.body = null;
        bodies.delete(row.id);
        try {
          const mapped = await this.map(row, body);
          waiting.push(mapped);
          bytes += mapped.bytes;
          events += mapped.events.length;
        } catch (err) {
          await this.fail(row, err);
        }
        if (bytes >= RECORD_BYTES || events >= RECORD_EVENTS) await flush();
      }
    }
    await flush();
  }

  private async map(row: ClaimedReceipt, text: string): Promise<Mapped> {
    const work = await this.ctx.instances.forWork(row.instance_id);
    const mapping = work.connector.events?.webhook?.events as WebhookEventsMapping | undefined;
    if (!mapping) throw new Error(`connector "${work.connector.key}" declares no webhook event mapping`);
    const body = parseWebhookBody(Buffer.from(text, 'utf8'), row.content_type ?? undefined);
    const headers = JSON.parse(row.headers) as Record<string, string>;
    const webhook = work.connector.events?.webhook;
    const carriesSecret = itemSecretCheck(webhook, work.instance.configuration);
    const lifecycle: LifecycleItem[] = [];
    const mapped = mapWebhookBody(mapping, body, headers, row.received_at, (item) => {
      if (carriesSecret && !carriesSecret(item)) {
        this.ctx.metrics.webhooks.inc({ status: 'item-secret-mismatch' });
        return { reason: 'the item does not carry the subscription secret (itemSecret): dropped' };
      }
      const about = lifecycleItemOf(webhook?.lifecycle, item);
      if (about) lifecycle.push(about);
      return about ? { reason: '' } : undefined;
    });
    if (lifecycle.length) await applyLifecycle(this.ctx, work.instance.id, lifecycle);
    if (mapping.fetch) await fetchThinRecords(this.ctx, work, mapping.fetch, mapped.events);
    return { row, work, bytes: text.length, headers, ...mapped };
  }

  /** Records mapped receipts in one transaction; when it fails, each alone. */
  private async record(mapped: Mapped[]): Promise<void> {
    if (mapped.length === 0) return;
    try {
      await this.recordTogether(mapped);
    } catch (err) {
      if (mapped.length === 1) return this.fail(mapped[0].row, err);
      for (const one of mapped) await this.recordTogether([one]).catch((e) => this.fail(one.row, e));
    }
  }

  /** Snapshots, events, notifications and the receipts' new status, in one transaction. */
  private async recordTogether(batch: Mapped[]): Promise<void> {
    const { clock, config } = this.ctx;
    const now = clock.now();
    let raised: NewEvent[][] = [];
    await this.ctx.stores.transaction(async (uow) => {
      const changes = batch.flatMap((m) =>
        m.events.map((e) => ({
          key: { instance_id: m.work.instance.id, object_type: e.objectType, object_id: e.objectId },
          change: e.eventType === 'DELETED' ? { deleted: true as const } : e.record !== undefined ? { hash: hashRecord(e.record) } : undefined,
        })),
      );
      const fresh = await uow.snapshots.reconcile(changes, now);
      let i = 0;
      // Already raised (by a poll or an earlier webhook): not raised again.
      raised = batch.map((m) =>
        m.events
          .filter(() => fresh[i++])
          .map((e): NewEvent => ({ eventType: e.eventType, objectType: e.objectType, objectId: e.objectId, date: e.date, raw: e.raw })),
      );
      for (const same of groupBy(
        batch.map((m, j) => ({ m, events: raised[j] })),
        (x) => x.m.work.instance.id,
      ).values()) {
        const { instance, settings } = same[0].m.work;
        await uow.events.recordEventGroups(
          { id: instance.id, name: instance.name, elementKey: instance.elementKey },
          same.map(({ m, events }) => ({
            events,
            options: {
              source: 'webhook' as const,
              now,
              notify: settings.notificationsEnabled,
              maxPerNotification: settings.maxBatchSize ?? config.delivery.maxEventsPerNotification.webhook,
              // The receipt's headers were redacted when stored.
              received: { receiptId: m.row.id, at: Number(m.row.received_at), headers: m.headers },
            },
          })),
        );
      }
      await uow.receipts.markProcessed(
        batch.map((m, j) => ({
          id: m.row.id,
          eventsCount: raised[j].length,
          unmapped: m.unmapped.length ? JSON.stringify(m.unmapped.map((u) => ({ index: u.index, reason: u.reason }))) : null,
        })),
        now,
      );
    });
    // Committed: the dispatcher (here and on other nodes) takes the new notifications at once.
    if (batch.some((m, j) => raised[j].length > 0 && m.work.settings.notificationsEnabled)) this.ctx.wakeUps.notify('delivery');
    this.ctx.metrics.events.inc(
      { source: 'webhook' },
      batch.reduce((n, m) => n + m.events.length, 0),
    );
  }

  private async fail(row: ClaimedReceipt, err: unknown): Promise<void> {
    if (isDatabaseUnavailable(err)) throw err;
    const { clock, config, log } = this.ctx;
    const failed = row.attempts >= config.webhooks.maxAttempts;
    const reason = (err as Error).message.slice(0, 1000);
    log.warn({ receiptId: row.id, instanceId: row.instance_id, attempts: row.attempts, err: reason }, 'webhook mapping failed');
    await this.ctx.stores.receipts.markFailed(row.id, {
      failed,
      reason,
      nextAttemptAt: clock.now() + backoffMs(row.attempts, config.webhooks.mappingBackoffBaseSeconds, config.webhooks.mappingBackoffMaxSeconds),
    });
    if (failed) this.parked(row, reason);
  }

  /** A receipt whose last allowed attempt never finished: parked without mapping it again. */
  private async park(row: ClaimedReceipt, maxAttempts: number): Promise<void> {
    const reason =
      `mapping did not finish in ${maxAttempts} attempts: the gateway stopped or crashed while mapping this receipt${row.reason ? ` (the last error: ${row.reason})` : ''}`.slice(
        0,
        1000,
      );
    await this.ctx.stores.receipts.markFailed(row.id, { failed: true, reason, nextAttemptAt: this.ctx.clock.now(), attempts: maxAttempts });
    this.parked(row, reason);
  }

  private parked(row: ClaimedReceipt, reason: string): void {
    this.ctx.metrics.receiptsParked.inc();
    this.ctx.log.error({ receiptId: row.id, instanceId: row.instance_id, err: reason }, 'webhook receipt parked as failed: retry it once the cause is fixed');
  }
}
