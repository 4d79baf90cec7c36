import type { GatewayContext, StoresOf } from '../feature.js';

/** The part of the gateway's context the poller feature is built from (main.ts passes the whole one). */
export type PollerContext = Pick<GatewayContext, 'catalog' | 'clock' | 'config' | 'instances' | 'log' | 'metrics' | 'nodeId' | 'providerCalls' | 'wakeUps'> & {
  stores: StoresOf<'events' | 'pollState' | 'snapshots'>;
};
