import type { Feature, GatewayContext } from '../context.js';
import { requestRoutes } from './routes.js';

/** Request templates: invoking them through the API (routes.ts, invoke.ts) and their log (store.ts). */
export function requestsFeature(ctx: GatewayContext): Feature {
  return { name: 'requests', apiRoutes: [requestRoutes(ctx)] };
}
