import type { Feature, GatewayContext } from '../context.js';
import { webhookIngressRoutes } from './ingress.js';
import { WebhookProcessor } from './worker.js';
import { webhookLifecycle } from './registration.js';
import { receiptRoutes } from './routes.js';

/** Webhook mode: ingress (no bearer; the token is the secret), registration, mapping, receipts. */
export function webhookFeature(ctx: GatewayContext): Feature & { processor: WebhookProcessor } {
  const { receipts, deregistrations } = ctx.stores;
  const processor = new WebhookProcessor(ctx);
  ctx.instances.lifecycle.push(webhookLifecycle(ctx, deregistrations));
  // A stored receipt (here, or on another node) is mapped at once, not at the next tick.
  ctx.wakeUps.on('webhooks', () => processor.kick());
  const stored = () => ctx.wakeUps.notify('webhooks');
  return {
    name: 'webhooks',
    processor,
    openRoutes: [webhookIngressRoutes(ctx, receipts, stored)],
    apiRoutes: [receiptRoutes(receipts, ctx.instances, ctx.clock, stored)],
    start: () => processor.start(),
    stop: (graceMs) => processor.stop(graceMs),
  };
}
export type WebhookFeature = ReturnType<typeof webhookFeature>;
