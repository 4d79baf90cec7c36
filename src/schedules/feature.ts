import type { Feature, GatewayContext } from '../context.js';
import { scheduleRoutes } from './routes.js';
import { Scheduler } from './worker.js';

/** Scheduled events: their API (routes.ts) and the scheduler that fires them (worker.ts). */
export function createScheduleFeature(ctx: GatewayContext): Feature & { scheduler: Scheduler } {
  const scheduler = new Scheduler(ctx);
  return { name: 'schedules', scheduler, apiRoutes: [scheduleRoutes(ctx)], start: () => scheduler.start(), stop: () => scheduler.stop() };
}

export type ScheduleFeature = ReturnType<typeof createScheduleFeature>;
