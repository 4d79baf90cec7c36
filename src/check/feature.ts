import type { Feature, GatewayContext } from '../context.js';
import type { GrantedScopeOf } from './lines.js';
import { checkRoutes } from './routes.js';
import { createInstanceCheck } from './service.js';

/** The instance check: a live, read-only look at an instance's provider (service.ts). */
export function checkFeature(ctx: GatewayContext, grantedScopeOf: GrantedScopeOf): Feature {
  return { name: 'check', apiRoutes: [checkRoutes(createInstanceCheck(ctx, grantedScopeOf))] };
}
