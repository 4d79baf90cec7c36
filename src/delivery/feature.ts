import type { DeliveryContext } from './context.js';
import type { Feature } from '../feature.js';
import { Dispatcher } from './worker.js';
import { deliveryRoutes } from './routes.js';

/** Callback delivery: the dispatcher loop and its inspection/replay routes. */
export function createDeliveryFeature(ctx: DeliveryContext): Feature & { dispatcher: Dispatcher } {
  const dispatcher = new Dispatcher(ctx, ctx.stores.events);
  // Notifications committed (here, or on another node) are claimed at once, not at the next tick.
  ctx.wakeUps.on('delivery', () => dispatcher.kick());
  return {
    name: 'delivery',
    dispatcher,
    apiRoutes: [deliveryRoutes(ctx)],
    start: () => dispatcher.start(),
    stop: (graceMs) => dispatcher.stop(graceMs),
  };
}

export type DeliveryFeature = ReturnType<typeof createDeliveryFeature>;
