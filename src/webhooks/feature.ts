import type { Feature, GatewayContext } from '../context.js';
import { webhookIngressRoutes } from './ingress.js';
import { WebhookProcessor } from './worker.js';
import { receiptRoutes } from './routes.js';

/** Webhook mode: ingress (no bearer; the token is the secret), registration, mapping, receipts. */
export function createWebhookFeature(ctx: GatewayContext): Feature & { processor: WebhookProcessor } {
  const processor = new WebhookProcessor(ctx);
  return {
    name: 'webhooks',
    processor,
    openRoutes: [webhookIngressRoutes({ ...ctx, onStored: () => processor.kick() })],
    apiRoutes: [receiptRoutes({ ...ctx, onRetried: () => processor.kick() })],
    start: () => processor.start(),
    stop: (graceMs) => processor.stop(graceMs),
  };
}
export type WebhookFeature = ReturnType<typeof createWebhookFeature>;
