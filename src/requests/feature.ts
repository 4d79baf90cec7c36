import type { RequestsContext } from './context.js';
import type { Feature } from '../feature.js';
import { requestRoutes } from './routes.js';

/**
 * Request templates: invoking them through the API (routes.ts, invoke.ts) and their log
 * (store.ts). The connector's lookups run when an instance is created are an instance hook
 * (lookups.ts), given to the instances service in main.ts.
 */
export function createRequestsFeature(ctx: RequestsContext): Feature {
  return { name: 'requests', apiRoutes: [requestRoutes(ctx)] };
}
