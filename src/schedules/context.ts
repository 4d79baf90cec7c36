import type { GatewayContext, StoresOf } from '../feature.js';

/** The part of the gateway's context the schedules feature is built from (main.ts passes the whole one). */
export type SchedulesContext = Pick<GatewayContext, 'clock' | 'config' | 'instances' | 'log' | 'metrics' | 'nodeId' | 'wakeUps'> & {
  stores: StoresOf<'events' | 'schedules'>;
};
