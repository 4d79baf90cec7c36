import type { GatewayContext, StoresOf } from '../feature.js';

/** The part of the gateway's context the requests feature is built from (main.ts passes the whole one). */
export type RequestsContext = Pick<GatewayContext, 'clock' | 'config' | 'connectors' | 'instances' | 'log' | 'providerCalls' | 'secretsOf'> & {
  stores: StoresOf<'instances' | 'requestLog'>;
};
