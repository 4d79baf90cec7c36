import type { SchedulesContext } from './context.js';
import type { Feature } from '../feature.js';
import { scheduleRoutes } from './routes.js';
import { Scheduler } from './worker.js';

/** Scheduled events: their API (routes.ts) and the scheduler that fires them (worker.ts). */
export function createScheduleFeature(ctx: SchedulesContext): Feature & { scheduler: Scheduler } {
  const scheduler = new Scheduler(ctx);
  return { name: 'schedules', scheduler, apiRoutes: [scheduleRoutes(ctx)], start: () => scheduler.start(), stop: () => scheduler.stop() };
}

export type ScheduleFeature = ReturnType<typeof createScheduleFeature>;
