import type { CheckContext } from './context.js';
import type { Feature } from '../feature.js';
import type { GrantedScopeOf } from './lines.js';
import { checkRoutes } from './routes.js';
import { createInstanceCheck } from './service.js';

/** The instance check: a live, read-only look at an instance's provider (service.ts). */
export function createCheckFeature(deps: CheckContext & { grantedScopeOf: GrantedScopeOf }): Feature {
  return { name: 'check', apiRoutes: [checkRoutes({ check: createInstanceCheck(deps, deps.grantedScopeOf) })] };
}
