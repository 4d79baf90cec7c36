import type { GatewayContext, StoresOf } from '../feature.js';

/** The part of the gateway's context the delivery feature is built from (main.ts passes the whole one). */
export type DeliveryContext = Pick<GatewayContext, 'clock' | 'config' | 'instances' | 'log' | 'metrics' | 'nodeId' | 'outbound' | 'wakeUps'> & {
  stores: StoresOf<'connectSessions' | 'events' | 'instances'>;
};
