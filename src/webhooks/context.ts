import type { GatewayContext, StoresOf } from '../feature.js';

/** The part of the gateway's context the webhooks feature is built from (main.ts passes the whole one). */
export type WebhooksContext = Pick<
  GatewayContext,
  'clock' | 'config' | 'connectors' | 'instances' | 'log' | 'metrics' | 'nodeId' | 'providerCalls' | 'wakeUps'
> & { stores: StoresOf<'deregistrations' | 'events' | 'instances' | 'pollState' | 'receipts' | 'refreshes' | 'snapshots'> };
