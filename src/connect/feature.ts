import type { ConnectContext } from './context.js';
import type { Feature } from '../feature.js';
import type { ConnectNeeds } from './authorization.js';
import { ConnectFlow } from './flow.js';
import { connectApiRoutes, connectPageRoutes } from './routes.js';
import type { ConnectStore } from './store.js';
import { ConnectExpiry } from './expiry.js';

/** The hosted connect page, its sessions, and the loop that reports the abandoned ones (docs/connect.md). */
export function connectFeature(ctx: ConnectContext, store: ConnectStore, apiToken: string, needs: ConnectNeeds): Feature & { expiry: ConnectExpiry } {
  const flow = new ConnectFlow(ctx, store, apiToken, needs);
  const expiry = new ConnectExpiry(ctx, store, flow);
  return {
    name: 'connect',
    apiRoutes: [connectApiRoutes(ctx, store)],
    openRoutes: [connectPageRoutes(ctx, flow)],
    expiry,
    start: () => expiry.start(),
    stop: () => expiry.stop(Infinity),
  };
}

export type ConnectFeature = ReturnType<typeof connectFeature>;
