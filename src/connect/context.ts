import type { GatewayContext, StoresOf } from '../feature.js';

/** The part of the gateway's context the connect feature is built from (main.ts passes the whole one). */
export type ConnectContext = Pick<GatewayContext, 'clock' | 'config' | 'connectors' | 'instances' | 'log' | 'metrics' | 'wakeUps'> & {
  stores: StoresOf<'events'>;
};
