import type { PollerContext } from './context.js';
import type { Feature } from '../feature.js';
import type { Instance } from '../instances/store.js';
import { Poller } from './poller.js';
import { pollerRoutes } from './routes.js';

/**
 * What the poller is built from: the gateway's context, and what other parts add to an instance's
 * status (provider auth, the rate budget, the callback origin, lapsing webhooks), given as functions.
 */
export interface PollerFeatureDeps extends PollerContext {
  authStatusOf?: (instance: Instance) => Promise<unknown>;
  rateLimitOf?: (instance: Instance) => Promise<unknown>;
  deliveryOf?: (instance: Instance) => unknown;
  /** The provider webhooks that lapse unless refreshed, with their expiry (webhook mode). */
  webhooksOf?: (instance: Instance) => Promise<unknown>;
}

/** Polling: the scheduler loop (poller.ts), poll-now and the per-object status (routes.ts). */
export function createPollerFeature(deps: PollerFeatureDeps): Feature & { poller: Poller } {
  const poller = new Poller(deps);
  return {
    name: 'poller',
    poller,
    apiRoutes: [pollerRoutes({ ...deps, poller })],
    start: () => {
      if (deps.config.poller.enabled) poller.start();
    },
    stop: (graceMs) => poller.stop(graceMs),
  };
}

export type PollerFeature = ReturnType<typeof createPollerFeature>;
