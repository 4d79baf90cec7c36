import type { ConnectContext } from './context.js';
import type { Feature } from '../feature.js';
import type { ConnectNeeds } from './authorization.js';
import { ConnectFlow } from './flow.js';
import { connectApiRoutes, connectPageRoutes } from './routes.js';
import type { ConnectStore } from './store.js';

/** The hosted connect page and its sessions (docs/connect.md). */
export function connectFeature(ctx: ConnectContext, store: ConnectStore, apiToken: string, needs: ConnectNeeds): Feature {
  const flow = new ConnectFlow(ctx, store, apiToken, needs);
  return { name: 'connect', apiRoutes: [connectApiRoutes(ctx, store)], openRoutes: [connectPageRoutes(ctx, flow)] };
}
