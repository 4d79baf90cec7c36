import type { Feature, GatewayContext } from '../context.js';
import { webhookIngressRoutes } from './ingress.js';
import { WebhookProcessor } from './processor.js';
import { webhookLifecycle } from './registration.js';
import { receiptRoutes } from './routes.js';
import { ReceiptStore } from './store.js';

/** Webhook mode: ingress (no bearer; the token is the secret), registration, mapping, receipts. */
export function webhookFeature(ctx: GatewayContext): Feature & { processor: WebhookProcessor } {
  const processor = new WebhookProcessor(ctx);
  ctx.instances.lifecycle.push(webhookLifecycle(ctx));
  return {
    name: 'webhooks',
    processor,
    openRoutes: [webhookIngressRoutes(ctx, () => processor.kick())],
    apiRoutes: [receiptRoutes(new ReceiptStore(ctx.db), ctx.instances)],
    start: () => processor.start(),
    stop: (graceMs) => processor.stop(graceMs),
  };
}
export type WebhookFeature = ReturnType<typeof webhookFeature>;
