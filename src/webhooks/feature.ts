import type { WebhooksContext } from './context.js';
import type { Feature } from '../feature.js';
import { webhookIngressRoutes } from './ingress.js';
import { WebhookProcessor } from './worker.js';
import { receiptRoutes } from './routes.js';
import { WebhookRefresher } from './refresh.js';

/** Webhook mode: ingress (no bearer; the token is the secret), registration, mapping, receipts, refreshes of lapsing registrations. */
export function createWebhookFeature(ctx: WebhooksContext): Feature & { processor: WebhookProcessor; refresher: WebhookRefresher } {
  const processor = new WebhookProcessor(ctx);
  const refresher = new WebhookRefresher(ctx);
  // A stored receipt (here, or on another node) is mapped at once, not at the next tick.
  ctx.wakeUps.on('webhooks', () => processor.kick());
  const stored = () => ctx.wakeUps.notify('webhooks');
  return {
    name: 'webhooks',
    processor,
    refresher,
    openRoutes: [webhookIngressRoutes({ ...ctx, onStored: stored })],
    apiRoutes: [receiptRoutes({ ...ctx, onRetried: stored })],
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
