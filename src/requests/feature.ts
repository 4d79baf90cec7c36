import type { Feature, GatewayContext } from '../context.js';
import { createTemplateInvoker } from './invoke.js';
import { lookupLifecycle } from './lookups.js';
import { requestRoutes } from './routes.js';

/**
 * Request templates: invoking them through the API (routes.ts, invoke.ts), their log (store.ts),
 * and the connector's lookups run when an instance is created (lookups.ts).
 */
export function requestsFeature(ctx: GatewayContext): Feature {
  ctx.instances.lifecycle.push(lookupLifecycle(ctx, createTemplateInvoker(ctx, ctx.stores.requestLog)));
  return { name: 'requests', apiRoutes: [requestRoutes(ctx)] };
}
