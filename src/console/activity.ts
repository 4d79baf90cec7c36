import type Router from '@koa/router';
import { idParam } from '../api/pagination.js';
import type { Clock } from '../clock.js';
import type { EventStore } from '../events/store.js';

/**
 * GET /instances/:id/activity: the instance's events recorded and notifications delivered per hour
 * over the last 24 hours (the console's chart), oldest hour first, from the events and
 * notifications tables. Hours are whole UTC hours; the last one is the hour under way.
 */
const HOUR = 3_600_000;
const HOURS = 24;

export function activityRoutes(events: EventStore, clock: Clock, requireInstance: (id: number) => Promise<unknown>) {
  return (router: Router) => {
    router.get('/instances/:id/activity', async (ctx) => {
      const id = idParam(ctx.params.id, 'instance');
      await requireInstance(id);
      const from = (Math.floor(clock.now() / HOUR) - (HOURS - 1)) * HOUR;
      const [recorded, delivered] = await Promise.all([events.countsPerBucket(id, 'events', from, HOUR), events.countsPerBucket(id, 'deliveries', from, HOUR)]);
      ctx.body = {
        from: new Date(from).toISOString(),
        to: new Date(from + HOURS * HOUR).toISOString(),
        hours: Array.from({ length: HOURS }, (_, i) => ({
          hour: new Date(from + i * HOUR).toISOString(),
          events: recorded.get(i) ?? 0,
          deliveries: delivered.get(i) ?? 0,
        })),
      };
    });
  };
}
