import { firstMatch } from '../lib/json-path.js';
import type { GatewayContext } from '../context.js';
import { ApiError } from '../errors.js';
import { claimDue } from '../db/lease.js';
import type { ConnectorDefinition } from '../connectors/schema.js';
import type { Instance } from '../instances/store.js';
import type { InstanceLifecycle } from '../instances/service.js';
import { buildTemplateRequest } from '../provider/request-builder.js';
import { ProviderError } from '../provider/http-client.js';
import { decryptConfiguration } from '../secrets/redact.js';

/**
 * Provider-side webhook registration. Creating an instance in webhook mode calls the connector's
 * `register` template with `context.targetUrl`; its answer's `webhookIdPath` is stored. A failed
 * registration fails the create with the provider's answer (the instance is removed again).
 * DELETE calls `deregister`; when that fails the instance is still deleted and the call is queued
 * and retried with backoff (webhook_deregistrations), and the DELETE answer says so.
 */
export function webhookUrlOf(ctx: GatewayContext, instance: Pick<Instance, 'webhookToken'>): string {
  return `${ctx.config.server.publicUrl}/hooks/${instance.webhookToken}`;
}

async function callTemplate(ctx: GatewayContext, connector: ConnectorDefinition, name: string, configuration: Record<string, unknown>, context: Record<string, unknown>, instanceId?: number) {
  const template = connector.requests?.[name];
  if (!template) throw new Error(`connector "${connector.key}" has no request template "${name}"`);
  const scope = { iparam: configuration, context };
  const target = { connector, configuration, instanceId, scope };
  const { request, options } = buildTemplateRequest({ baseUrl: await ctx.providerCalls.baseUrlOf(target), template, scope });
  return ctx.providerCalls.send(target, request, { maxAttempts: options.maxAttempts, retryDelayMs: options.retryDelay, timeoutMs: Math.min(options.timeout, ctx.config.requests.maxTimeoutSeconds * 1000) });
}

function describe(err: unknown): string {
  if (err instanceof ProviderError) return `HTTP ${err.status || err.code || 'error'}: ${err.response?.slice(0, 500) ?? err.message}`;
  return (err as Error).message;
}

export function webhookLifecycle(ctx: GatewayContext): InstanceLifecycle {
  return {
    async afterCreate(instance) {
      if (instance.vendorType !== 'webhook') return;
      const connector = ctx.instances.connectorOf(instance);
      const register = connector.events?.webhook?.register;
      if (!register) return;
      let webhookId: string | null = null;
      try {
        const result = await callTemplate(ctx, connector, register, instance.configuration, { targetUrl: webhookUrlOf(ctx, instance), instanceId: instance.id }, instance.id);
        const idPath = connector.events?.webhook?.webhookIdPath;
        if (idPath && result.response) {
          const found = firstMatch(JSON.parse(result.response), idPath);
          if (found !== undefined && found !== null) webhookId = String(found);
        }
      } catch (err) {
        const providerAnswer = err instanceof ProviderError ? { status: err.status, response: err.response, errorSource: err.errorSource } : {};
        throw new ApiError(502, 'WEBHOOK_REGISTRATION_FAILED', `the provider refused the webhook registration: ${describe(err)}`, [providerAnswer]);
      }
      if (webhookId) await ctx.instances.store.update(ctx.db, instance.id, { elementKey: instance.elementKey, webhookId }, ctx.clock.now());
      ctx.instances.invalidate(instance.id);
    },

    async beforeDelete(instance) {
      const connector = ctx.instances.connectorOf(instance);
      const deregister = connector.events?.webhook?.deregister;
      if (instance.vendorType !== 'webhook' || !deregister || !instance.webhookId) return;
      try {
        await callTemplate(ctx, connector, deregister, instance.configuration, { webhookId: instance.webhookId, targetUrl: webhookUrlOf(ctx, instance) }, instance.id);
      } catch (err) {
        const now = ctx.clock.now();
        ctx.log.warn({ instanceId: instance.id, err: describe(err) }, 'webhook deregistration failed; it will be retried');
        await ctx.db('webhook_deregistrations').insert({
          instance_id: instance.id, element_key: instance.elementKey, configuration: ctx.instances.store.encryptConfiguration(instance.elementKey, instance.configuration),
          webhook_id: instance.webhookId, attempts: 1, next_attempt_at: now + 60_000, last_error: describe(err).slice(0, 1000), created_at: now,
        });
      }
    },
  };
}

const MAX_DEREGISTRATION_ATTEMPTS = 10;

/** Retries queued deregistrations (called from the webhook processor's pass). */
export async function retryDeregistrations(ctx: GatewayContext): Promise<void> {
  const now = ctx.clock.now();
  const rows = await claimDue<{ id: number; instance_id: number; element_key: string; configuration: string; webhook_id: string; attempts: number }>(ctx.db, {
    table: 'webhook_deregistrations', dueColumn: 'next_attempt_at', now, owner: ctx.nodeId, leaseMs: 60_000, limit: 10,
  });
  for (const row of rows) {
    const connector = ctx.connectors.get(row.element_key);
    try {
      if (!connector?.events?.webhook?.deregister) throw new Error(`connector "${row.element_key}" has no deregister template`);
      const { configuration, unreadable } = decryptConfiguration(JSON.parse(row.configuration), ctx.cipher);
      if (unreadable.length > 0) throw new Error(`the stored configuration's ${unreadable.join(', ')} cannot be decrypted with the configured keys`);
      await callTemplate(ctx, connector, connector.events.webhook.deregister, configuration, { webhookId: row.webhook_id });
      await ctx.db('webhook_deregistrations').where({ id: row.id }).delete();
    } catch (err) {
      const attempts = row.attempts + 1;
      if (attempts >= MAX_DEREGISTRATION_ATTEMPTS) {
        ctx.log.error({ instanceId: row.instance_id, webhookId: row.webhook_id, err: describe(err) }, 'webhook deregistration gave up');
        await ctx.db('webhook_deregistrations').where({ id: row.id }).delete();
        continue;
      }
      await ctx.db('webhook_deregistrations').where({ id: row.id }).update({
        attempts, last_error: describe(err).slice(0, 1000), next_attempt_at: now + 60_000 * 2 ** attempts, lease_owner: null, lease_expires_at: null,
      });
    }
  }
}
