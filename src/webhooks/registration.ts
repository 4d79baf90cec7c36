import { randomUUID } from 'node:crypto';
import { backoffMs } from '../lib/backoff.js';
import { firstMatch } from '../lib/json-path.js';
import type { WebhooksContext } from './context.js';
import { ApiError } from '../errors.js';
import type { ConnectorDefinition, WebhookRegistration } from '../connectors/schema.js';
import { webhookUrlOf } from '../api/public-urls.js';
import { registrationsOf } from '../connectors/webhook-registrations.js';
import { configurationPicks } from '../connectors/auth-alternatives.js';
import { expiryContext, trackExpiry } from './expiry.js';
import type { InstanceHooks } from '../instances/hooks.js';
import type { DeregistrationStore } from './store.js';
import { buildTemplateRequest } from '../provider/request-builder.js';
import { ProviderError } from '../provider/http-client.js';
import { RateBudgetWait } from '../provider/rate-budget.js';

/**
 * Provider-side webhook registration. Creating an instance in webhook mode calls each of the
 * connector's registrations' `register` template (the shorthand `register` is one registration
 * named "default") with `context` {targetUrl, instanceId, registration, webhookIds (of the registrations
 * made before it), ...its context}; the id at
 * its `webhookIdPath` is stored under the registration's name. When one fails, those already made
 * are deregistered again and the create fails with 502 and the provider's answer (the instance is
 * removed). DELETE deregisters every stored id; a failed deregistration is queued and retried with
 * backoff (webhook_deregistrations) and the instance is still deleted. A registration with
 * `when`/`unless` is made only for configurations that set all / none of those keys (an admin
 * webhook with basic auth, an app's webhook with OAuth); one with `expiry` is refreshed before it
 * lapses (refresh.ts).
 */
/** The registrations made for this configuration: those whose `when` keys are all set and `unless` keys none. */
export function registrationsFor(connector: ConnectorDefinition, configuration: Record<string, unknown>): WebhookRegistration[] {
  return registrationsOf(connector).filter((r) => configurationPicks(r, configuration));
}

/**
 * The id at the registration's webhookIdPath, narrowed by its webhookIdPattern (first group) when it
 * has one. A list of paths makes a composite id — their values joined by spaces — for a provider
 * that needs several values to remove a subscription (a channel's id and its resource's id): the
 * templates get them as `context.webhookIdParts.0`, `.1`, ….
 */
export function webhookIdOf(registration: WebhookRegistration, answer: unknown): string | undefined {
  if (!registration.webhookIdPath || answer === undefined || answer === null) return undefined;
  if (Array.isArray(registration.webhookIdPath)) {
    const parts = registration.webhookIdPath.map((path) => firstMatch(answer, path));
    return parts.every((p) => (typeof p === 'string' || typeof p === 'number') && !/\s/.test(String(p)) && p !== '') ? parts.join(' ') : undefined;
  }
  const found = firstMatch(answer, registration.webhookIdPath);
  if (found === undefined || found === null || found === '') return undefined;
  if (!registration.webhookIdPattern) return String(found);
  const m = new RegExp(registration.webhookIdPattern).exec(String(found));
  return m ? (m[1] ?? m[0]) : undefined;
}

/** A registration answer (JSON) without the id its deregistration needs. */
export class MissingWebhookId extends Error {
  readonly response: string;
  constructor(
    registration: WebhookRegistration,
    readonly status: number,
    response: string | undefined,
  ) {
    super(`no webhook id at ${registration.webhookIdPath ?? '(no webhookIdPath)'} in the answer to registration "${registration.name}"`);
    this.response = (response ?? '').slice(0, 500);
  }
}

/** The registration answer as JSON; an answer that is not JSON has no id to find. */
export function parseAnswer(text: string | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Values a provider hands out once in a registration answer (Stripe's signing secret), for keys the instance left empty. */
function valuesToSave(connector: ConnectorDefinition, configuration: Record<string, unknown>, answer: unknown, saved: Record<string, string>): void {
  for (const [key, value] of Object.entries(savedFromAnswer(connector, answer))) {
    const current = configuration[key] ?? saved[key];
    if (current !== undefined && current !== null && current !== '') continue;
    saved[key] = value;
  }
}

/** Every `saveFromResponse` value a registration answer carries (strings and numbers, as strings). */
export function savedFromAnswer(connector: ConnectorDefinition, answer: unknown): Record<string, string> {
  const found: Record<string, string> = {};
  if (answer === undefined) return found;
  for (const [key, path] of Object.entries(connector.events?.webhook?.saveFromResponse ?? {})) {
    const value = firstMatch(answer, path);
    if (typeof value === 'string' || typeof value === 'number') found[key] = String(value);
  }
  return found;
}

export async function callTemplate(
  ctx: RegistrationDeps,
  connector: ConnectorDefinition,
  name: string,
  configuration: Record<string, unknown>,
  context: Record<string, unknown>,
  instanceId?: number,
) {
  const template = connector.requests?.[name];
  if (!template) throw new Error(`connector "${connector.key}" has no request template "${name}"`);
  const scope = { iparam: configuration, context: withIdParts(context) };
  const target = { connector, configuration, instanceId, scope };
  const { request, options } = buildTemplateRequest({ baseUrl: await ctx.providerCalls.baseUrlOf(target), template, scope });
  return ctx.providerCalls.send(target, request, {
    maxAttempts: options.maxAttempts,
    retryDelayMs: options.retryDelay,
    timeoutMs: Math.min(options.timeout, ctx.config.requests.maxTimeoutSeconds * 1000),
  });
}

/**
 * The context a template renders with: a composite `webhookId` split into `webhookIdParts`, and a
 * fresh `uniqueId` (a UUID) for a register call whose provider wants a new id from the caller each
 * time (a notification channel's id).
 */
function withIdParts(context: Record<string, unknown>): Record<string, unknown> {
  const parts = typeof context.webhookId === 'string' ? { webhookIdParts: context.webhookId.split(' ') } : {};
  return { uniqueId: randomUUID(), ...context, ...parts };
}

export function describe(err: unknown): string {
  if (err instanceof ProviderError) return `HTTP ${err.status || err.code || 'error'}: ${err.response ? err.response.slice(0, 500) : err.message}`;
  return (err as Error).message;
}

type Deregistration = {
  instanceId: number;
  elementKey: string;
  configuration: Record<string, unknown>;
  registration: string;
  webhookId: string;
  targetUrl?: string;
};

/** Calls the registration's deregister template; when it fails, queues the call for retries. */
async function deregister(ctx: RegistrationDeps, deregistrations: DeregistrationStore, connector: ConnectorDefinition, d: Deregistration): Promise<void> {
  const registration = registrationsOf(connector).find((r) => r.name === d.registration);
  if (!registration?.deregister) return;
  try {
    await callTemplate(
      ctx,
      connector,
      registration.deregister,
      d.configuration,
      { ...registration.context, registration: d.registration, webhookId: d.webhookId, targetUrl: d.targetUrl },
      d.instanceId,
    );
  } catch (err) {
    const now = ctx.clock.now();
    ctx.log.warn({ instanceId: d.instanceId, registration: d.registration, err: describe(err) }, 'webhook deregistration failed; it will be retried');
    // Waiting for the provider scope's rate budget is not a failed attempt: it goes when the budget returns.
    const budgetWait = err instanceof RateBudgetWait;
    // The instance's OAuth tokens are deleted with it: the retry carries them (encrypted) instead.
    const handOver = await ctx.providerCalls.handOverOf({ connector, configuration: d.configuration, instanceId: d.instanceId });
    await deregistrations.queue({
      instance_id: d.instanceId,
      element_key: d.elementKey,
      configuration: ctx.stores.instances.encryptConfiguration(d.elementKey, { ...d.configuration, ...handOver }, Object.keys(handOver)),
      registration: d.registration,
      webhook_id: d.webhookId,
      attempts: budgetWait ? 0 : 1,
      next_attempt_at: budgetWait
        ? err.until
        : now + backoffMs(1, ctx.config.webhooks.deregisterBackoffBaseSeconds, ctx.config.webhooks.deregisterBackoffMaxSeconds),
      last_error: describe(err).slice(0, 1000),
      created_at: now,
    });
  }
}

/** What registering and deregistering needs: no instance service (it is built with these hooks). */
export type RegistrationDeps = Pick<WebhooksContext, 'config' | 'clock' | 'log' | 'nodeId' | 'connectors' | 'providerCalls'> & {
  stores: Pick<WebhooksContext['stores'], 'instances' | 'deregistrations' | 'refreshes'>;
};

/** Webhooks' part of an instance's life: register with the provider after a create, deregister before a delete. */
export function webhookInstanceHooks(ctx: RegistrationDeps): InstanceHooks {
  const { deregistrations } = ctx.stores;
  return {
    async afterInstanceCreate(instance, connector) {
      if (instance.vendorType !== 'webhook') return;
      const targetUrl = webhookUrlOf(ctx.config.server.publicUrl, instance.webhookToken);
      const webhookIds: Record<string, string> = {};
      const saved: Record<string, string> = {};
      const answers: Record<string, unknown> = {};
      const registrations = registrationsFor(connector, instance.configuration);
      for (const registration of registrations) {
        try {
          const result = await callTemplate(
            ctx,
            connector,
            registration.register,
            instance.configuration,
            {
              // Earlier registrations' ids: a later step may read what the first made (Zendesk's signing secret).
              ...registration.context,
              registration: registration.name,
              targetUrl,
              instanceId: instance.id,
              webhookIds: { ...webhookIds },
              ...expiryContext(registration.expiry, ctx.clock.now()),
            },
            instance.id,
          );
          const answer = parseAnswer(result.response);
          answers[registration.name] = answer;
          const webhookId = webhookIdOf(registration, answer);
          // Without its id the subscription could never be deregistered: the create fails instead.
          if (webhookId === undefined && registration.deregister) throw new MissingWebhookId(registration, result.status, result.response);
          if (webhookId !== undefined) webhookIds[registration.name] = webhookId;
          valuesToSave(connector, instance.configuration, answer, saved);
        } catch (err) {
          // All or nothing: undo the registrations already made, so no subscription is left behind.
          for (const [name, webhookId] of Object.entries(webhookIds)) {
            await deregister(ctx, deregistrations, connector, {
              instanceId: instance.id,
              elementKey: instance.elementKey,
              configuration: instance.configuration,
              registration: name,
              webhookId,
              targetUrl,
            });
          }
          const which = registrations.length > 1 ? ` "${registration.name}"` : '';
          if (err instanceof RateBudgetWait) {
            throw new ApiError(
              429,
              'RATE_LIMITED',
              `the webhook registration${which} waits for the provider's rate budget: ${err.message}; try again then`,
              [{ registration: registration.name }],
              { 'Retry-After': String(err.retryAfterSeconds) },
            );
          }
          if (err instanceof MissingWebhookId) {
            throw new ApiError(
              502,
              'WEBHOOK_REGISTRATION_FAILED',
              `the provider's answer to the webhook registration${which} carries no webhook id at ${registration.webhookIdPath ?? '(no webhookIdPath)'}, so it could never be deregistered: the instance is not created (a subscription the provider made anyway is unknown to pollgate: remove it at the provider)`,
              [{ registration: registration.name, status: err.status, response: err.response }],
            );
          }
          const providerAnswer = err instanceof ProviderError ? { status: err.status, response: err.response, errorSource: err.errorSource } : {};
          throw new ApiError(502, 'WEBHOOK_REGISTRATION_FAILED', `the provider refused the webhook registration${which}: ${describe(err)}`, [
            { registration: registration.name, ...providerAnswer },
          ]);
        }
      }
      const configuration = Object.keys(saved).length > 0 ? { ...instance.configuration, ...saved } : undefined;
      if (Object.keys(webhookIds).length > 0 || configuration) {
        await ctx.stores.instances.update(instance.id, { elementKey: instance.elementKey, webhookIds, configuration }, ctx.clock.now());
      }
      for (const registration of registrations) {
        const webhookId = webhookIds[registration.name];
        if (registration.expiry && webhookId !== undefined) await trackExpiry(ctx, instance.id, registration, webhookId, answers[registration.name]);
      }
    },

    async beforeInstanceDelete(instance, connector) {
      if (instance.vendorType !== 'webhook') return;
      await ctx.stores.refreshes.removeInstance(instance.id);
      const targetUrl = webhookUrlOf(ctx.config.server.publicUrl, instance.webhookToken);
      for (const [registration, webhookId] of Object.entries(instance.webhookIds)) {
        await deregister(ctx, deregistrations, connector, {
          instanceId: instance.id,
          elementKey: instance.elementKey,
          configuration: instance.configuration,
          registration,
          webhookId,
          targetUrl,
        });
      }
    },
  };
}

const MAX_DEREGISTRATION_ATTEMPTS = 10;

/** Retries queued deregistrations (called from the webhook processor's pass). */
export async function retryDeregistrations(ctx: RegistrationDeps, deregistrations: DeregistrationStore): Promise<void> {
  const now = ctx.clock.now();
  const rows = await deregistrations.claimDue(now, ctx.nodeId);
  for (const row of rows) {
    const connector = ctx.connectors.get(row.element_key);
    try {
      const registration = connector && registrationsOf(connector).find((r) => r.name === row.registration);
      if (!connector || !registration?.deregister)
        throw new Error(`connector "${row.element_key}" has no deregister template for registration "${row.registration}"`);
      const { configuration, unreadable } = ctx.stores.instances.decryptConfiguration(row.configuration);
      if (unreadable.length > 0) throw new Error(`the stored configuration's ${unreadable.join(', ')} cannot be decrypted with the configured keys`);
      await callTemplate(ctx, connector, registration.deregister, configuration, {
        ...registration.context,
        registration: row.registration,
        webhookId: row.webhook_id,
      });
      await deregistrations.remove(row.id);
    } catch (err) {
      if (err instanceof RateBudgetWait) {
        await deregistrations.retryLater(row.id, { attempts: row.attempts, lastError: describe(err).slice(0, 1000), nextAttemptAt: err.until });
        continue;
      }
      const attempts = row.attempts + 1;
      if (attempts >= MAX_DEREGISTRATION_ATTEMPTS) {
        ctx.log.error({ instanceId: row.instance_id, webhookId: row.webhook_id, err: describe(err) }, 'webhook deregistration gave up');
        await deregistrations.remove(row.id);
        continue;
      }
      await deregistrations.retryLater(row.id, {
        attempts,
        lastError: describe(err).slice(0, 1000),
        nextAttemptAt: now + backoffMs(attempts, ctx.config.webhooks.deregisterBackoffBaseSeconds, ctx.config.webhooks.deregisterBackoffMaxSeconds),
      });
    }
  }
}
