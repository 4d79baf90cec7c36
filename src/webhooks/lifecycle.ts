import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { StoresOf } from '../feature.js';
import type { LifecycleAction, WebhookDefinition } from '../connectors/schema.js';
import { firstMatch } from '../lib/json-path.js';

/**
 * `events.webhook.lifecycle`: notifications about the subscription itself. `renew` makes the
 * registration's refresh due now (a provider asking for reauthorization); `recreate` marks it
 * lapsed, so the refresh loop registers it anew and then polls (the provider removed it);
 * `reconcile` polls the instance's objects now (the provider says notifications were missed). The
 * subscription is found by the id at `subscriptionIdPath`; without one, every registration of the
 * instance that lapses is meant.
 */
export type LifecycleItem = { action: LifecycleAction; subscriptionId?: string };

/** The lifecycle item this is, or undefined for an item about a record. */
export function lifecycleItemOf(lifecycle: WebhookDefinition['lifecycle'], item: unknown): LifecycleItem | undefined {
  if (!lifecycle || item === null || typeof item !== 'object') return undefined;
  const name = firstMatch(item, lifecycle.from);
  if (typeof name !== 'string' || !Object.hasOwn(lifecycle.actions, name)) return undefined;
  const id = lifecycle.subscriptionIdPath ? firstMatch(item, lifecycle.subscriptionIdPath) : undefined;
  return { action: lifecycle.actions[name], subscriptionId: typeof id === 'string' || typeof id === 'number' ? String(id) : undefined };
}

export async function applyLifecycle(
  ctx: { stores: StoresOf<'pollState' | 'refreshes'>; clock: Clock; log: Logger },
  instanceId: number,
  items: LifecycleItem[],
): Promise<void> {
  const now = ctx.clock.now();
  for (const { action, subscriptionId } of items) {
    if (action === 'reconcile') await ctx.stores.pollState.pollAllNow(instanceId, now);
    else await ctx.stores.refreshes.dueNow(instanceId, subscriptionId, { lapsed: action === 'recreate', now });
    ctx.log.info({ instanceId, action, subscriptionId }, 'webhook lifecycle notification acted on');
  }
}
