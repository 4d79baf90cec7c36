import type { Feature, GatewayContext } from '../context.js';
import type { ProviderAuth } from '../auth/provider-auth.js';
import { ConnectFlow } from './flow.js';
import { connectApiRoutes, connectPageRoutes } from './routes.js';
import type { ConnectStore } from './store.js';

/** The hosted connect page and its sessions (docs/connect.md). */
export function connectFeature(ctx: GatewayContext, store: ConnectStore, apiToken: string, providerAuth: ProviderAuth): Feature {
  const flow = new ConnectFlow(ctx, store, apiToken, providerAuth);
  return { name: 'connect', apiRoutes: [connectApiRoutes(ctx, store)], openRoutes: [connectPageRoutes(ctx, flow)] };
}
