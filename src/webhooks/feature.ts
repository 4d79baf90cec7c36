import type { Feature, GatewayContext } from '../context.js';
import { webhookIngressRoutes } from './ingress.js';
import { WebhookProcessor } from './worker.js';
import { receiptRoutes } from './routes.js';

/** Webhook mode: ingress (no bearer; the token is the secret), registration, mapping, receipts. */
export function webhookFeature(ctx: GatewayContext): Feature & { processor: WebhookProcessor } {
  const { receipts } = ctx.stores;
  const processor = new WebhookProcessor(ctx);
  return {
    name: 'webhooks',
    processor,
    openRoutes: [webhookIngressRoutes(ctx, receipts, () => processor.kick())],
    apiRoutes: [receiptRoutes(receipts, ctx.instances, ctx.clock, () => processor.kick())],
    start: () => processor.start(),
    stop: (graceMs) => processor.stop(graceMs),
  };
}
export type WebhookFeature = ReturnType<typeof webhookFeature>;
