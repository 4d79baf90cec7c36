import type { Feature, GatewayContext } from '../context.js';
import { requestRoutes } from './routes.js';

/**
 * Request templates: invoking them through the API (routes.ts, invoke.ts) and their log
 * (store.ts). The connector's lookups run when an instance is created are an instance hook
 * (lookups.ts), given to the instances service in main.ts.
 */
export function createRequestsFeature(ctx: GatewayContext): Feature {
  return { name: 'requests', apiRoutes: [requestRoutes(ctx)] };
}
