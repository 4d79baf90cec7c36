import type { Feature, GatewayContext } from '../context.js';
import { webhookIngressRoutes } from './ingress.js';
import { WebhookProcessor } from './worker.js';
import { receiptRoutes } from './routes.js';
import { WebhookRefresher } from './refresh.js';

/** Webhook mode: ingress (no bearer; the token is the secret), registration, mapping, receipts, refreshes of lapsing registrations. */
export function createWebhookFeature(ctx: GatewayContext): Feature & { processor: WebhookProcessor; refresher: WebhookRefresher } {
  const processor = new WebhookProcessor(ctx);
  const refresher = new WebhookRefresher(ctx);
  return {
    name: 'webhooks',
    processor,
    refresher,
    openRoutes: [webhookIngressRoutes({ ...ctx, onStored: () => processor.kick() })],
    apiRoutes: [receiptRoutes({ ...ctx, onRetried: () => processor.kick() })],
    start: () => {
      processor.start();
      refresher.start();
    },
    stop: async (graceMs) => {
      await Promise.all([processor.stop(graceMs), refresher.stop(graceMs)]);
    },
  };
}
export type WebhookFeature = ReturnType<typeof createWebhookFeature>;
