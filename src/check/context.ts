import type { GatewayContext } from '../feature.js';

/** The part of the gateway's context the check feature is built from (main.ts passes the whole one). */
export type CheckContext = Pick<GatewayContext, 'clock' | 'config' | 'instances' | 'log' | 'providerCalls' | 'secretsOf'>;
