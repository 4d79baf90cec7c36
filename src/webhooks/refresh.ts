import type { WebhooksContext } from './context.js';
import { backoffMs } from '../lib/backoff.js';
import { WorkerLoop } from '../lib/worker-loop.js';
import { RateBudgetWait } from '../provider/rate-budget.js';
import type { RefreshRow } from './refresh-store.js';
import { webhookUrlOf } from '../api/public-urls.js';
import { registrationsOf } from '../connectors/webhook-registrations.js';
import { callTemplate, describe, MissingWebhookId, parseAnswer, savedFromAnswer, webhookIdOf } from './registration.js';
import { expiresAtOf, expiryContext, refreshAtOf } from './expiry.js';
import { ProviderError } from '../provider/http-client.js';

/**
 * Webhooks a provider lets lapse unless refreshed (a registration with `expiry`, e.g. webhooks an
 * OAuth app registers that live 30 days). After registering, the expiry is read from the answer
 * (`expiresAtPath`) or is `seconds` away, and the refresh is due halfway there, so several failed
 * attempts still fit before the webhook lapses. The refresh loop calls the `refresh` template and
 * reads the new expiry the same way. A failed refresh is retried with backoff; once the webhook has
 * lapsed — or the next attempt would come too late, or the provider answers the refresh with 404
 * or 410 — the registration is made anew (its new id stored, the old one deregistered) and the
 * instance's objects are polled at once, a reconciliation of the gap. A registration without a
 * `refresh` template (a notification channel that cannot be extended) is renewed by registering
 * anew every time, halfway to its expiry, so the new one is live before the old one lapses. Rows
 * are claimed with a lease (FOR UPDATE SKIP LOCKED on PostgreSQL): on several nodes each refresh is
 * made by one of them. The loop's timer is unref'd; a failing pass is logged.
 */
const TICK_SECONDS = 60;
const RETRY_BASE_SECONDS = 60;
const RETRY_MAX_SECONDS = 3600;

export class WebhookRefresher extends WorkerLoop {
  constructor(private readonly ctx: WebhooksContext) {
    super({ name: 'webhook refresh', tickSeconds: () => TICK_SECONDS, log: ctx.log, metrics: ctx.metrics });
  }

  protected async pass(): Promise<number> {
    const rows = await this.ctx.stores.refreshes.claimDue(this.ctx.clock.now(), this.ctx.nodeId);
    for (const row of rows) {
      if (this.stopping) break;
      await this.refreshOne(row);
    }
    return rows.length;
  }

  private async refreshOne(row: RefreshRow): Promise<void> {
    const { ctx } = this;
    const store = ctx.stores.refreshes;
    const now = ctx.clock.now();
    const instance = await ctx.instances.store.get(row.instance_id);
    if (instance?.vendorType !== 'webhook') return store.removeInstance(row.instance_id);
    const connector = ctx.instances.connectorOf(instance);
    const registration = registrationsOf(connector).find((r) => r.name === row.registration);
    if (!registration?.expiry) return store.removeInstance(row.instance_id);
    const targetUrl = webhookUrlOf(ctx.config.server.publicUrl, instance.webhookToken);
    const context = {
      ...registration.context,
      registration: registration.name,
      targetUrl,
      instanceId: instance.id,
      webhookIds: { ...instance.webhookIds },
      ...expiryContext(registration.expiry, now),
    };
    // Without a refresh template the registration is renewed by registering anew, before it lapses.
    const renewal = registration.expiry.refresh;
    const renewing = renewal === undefined && now < row.expires_at;
    let lapsed = now >= row.expires_at || renewal === undefined;
    try {
      if (renewal !== undefined && !lapsed) {
        const result = await callTemplate(ctx, connector, renewal, instance.configuration, { ...context, webhookId: row.webhook_id }, instance.id).catch(
          (err) => {
            // The provider no longer knows it (removed, or lapsed early): no use retrying a refresh.
            if (err instanceof ProviderError && (err.status === 404 || err.status === 410)) return undefined;
            throw err;
          },
        );
        if (result) {
          const expiresAt = expiresAtOf(registration.expiry, parseAnswer(result.response), now) ?? now;
          await store.refreshed(row.id, { webhookId: row.webhook_id, expiresAt, refreshAt: refreshAtOf(now, expiresAt), now });
          ctx.log.info({ instanceId: instance.id, registration: registration.name, expiresAt: new Date(expiresAt).toISOString() }, 'webhook refreshed');
          return;
        }
        lapsed = true;
      }
      // Lapsed: the provider no longer delivers to it (and may ignore a refresh of it). Register anew.
      const result = await callTemplate(ctx, connector, registration.register, instance.configuration, context, instance.id);
      const answer = parseAnswer(result.response);
      const webhookId = webhookIdOf(registration, answer);
      if (webhookId === undefined) throw new MissingWebhookId(registration, result.status, result.response);
      const expiresAt = expiresAtOf(registration.expiry, answer, now) ?? now;
      const webhookIds = { ...instance.webhookIds, [registration.name]: webhookId };
      // What the new subscription hands out (its signing secret) replaces the old one's: it signs with its own.
      const replaced = savedFromAnswer(connector, answer);
      const configuration = Object.keys(replaced).length > 0 ? { ...instance.configuration, ...replaced } : undefined;
      await ctx.stores.instances.update(instance.id, { elementKey: instance.elementKey, webhookIds, configuration }, now);
      ctx.instances.invalidate(instance.id);
      await store.refreshed(row.id, { webhookId, expiresAt, refreshAt: refreshAtOf(now, expiresAt), now });
      if (renewing) ctx.log.info({ instanceId: instance.id, registration: registration.name, webhookId }, 'webhook renewed by registering anew');
      else {
        // Changes made while no subscription delivered them: a reconciliation poll of every object finds them.
        await ctx.stores.pollState.pollAllNow(instance.id, now);
        ctx.log.warn({ instanceId: instance.id, registration: registration.name, webhookId }, 'lapsed webhook registered anew; its objects are polled now');
      }
      if (registration.deregister) {
        // The old one is removed at the provider too; it may already be gone, so a failure is only logged.
        await callTemplate(ctx, connector, registration.deregister, instance.configuration, { ...context, webhookId: row.webhook_id }, instance.id).catch(
          (err) => ctx.log.warn({ instanceId: instance.id, registration: registration.name, err: describe(err) }, 'removing the lapsed webhook failed'),
        );
      }
    } catch (err) {
      const attempts = row.attempts + 1;
      const retryAt = err instanceof RateBudgetWait ? err.until : now + backoffMs(attempts, RETRY_BASE_SECONDS, RETRY_MAX_SECONDS);
      // A retry that would come after the webhook lapses comes at the lapse instead, and registers anew.
      const nextAttemptAt = now >= row.expires_at ? retryAt : Math.min(retryAt, row.expires_at);
      ctx.log.warn({ instanceId: instance.id, registration: registration.name, attempts, err: describe(err) }, 'webhook refresh failed; it will be retried');
      await store.retryLater(row.id, { attempts, lastError: describe(err).slice(0, 1000), nextAttemptAt });
    }
  }
}

/** The instance's lapsing registrations for its status: id, when each lapses and is refreshed next. */
export async function refreshStatus(ctx: Pick<WebhooksContext, 'stores'>, instanceId: number) {
  const rows = await ctx.stores.refreshes.listOf(instanceId);
  if (rows.length === 0) return undefined;
  const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
  return Object.fromEntries(
    rows.map((r) => [
      r.registration,
      {
        webhookId: r.webhook_id,
        expiresAt: iso(r.expires_at),
        nextRefreshAt: iso(r.next_attempt_at),
        lastRefreshDate: iso(r.refreshed_at),
        failedAttempts: r.attempts,
        lastError: r.last_error,
      },
    ]),
  );
}
