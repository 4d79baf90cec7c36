import type Router from '@koa/router';
import type { Knex } from 'knex';
import { idParam } from '../api/pagination.js';
import type { Clock } from '../clock.js';

/**
 * GET /instances/:id/activity: the instance's events recorded and notifications delivered per hour
 * over the last 24 hours (the console's chart), oldest hour first, from the events and
 * notifications tables. Hours are whole UTC hours; the last one is the hour under way.
 */
const HOUR = 3_600_000;
const HOURS = 24;

async function perHour(
  db: Knex,
  table: 'events' | 'notifications',
  column: 'created_at' | 'delivered_at',
  instanceId: number,
  from: number,
): Promise<Map<number, number>> {
  const rows = (await db(table)
    .where({ instance_id: instanceId })
    .where(column, '>=', from)
    .select(db.raw(`(${column} - ?) / ? as bucket`, [from, HOUR]))
    .count('* as n')
    .groupBy('bucket')) as unknown as Array<{ bucket: number | string; n: number | string }>;
  return new Map(rows.map((r) => [Math.floor(Number(r.bucket)), Number(r.n)]));
}

export function activityRoutes(db: Knex, clock: Clock, requireInstance: (id: number) => Promise<unknown>) {
  return (router: Router) => {
    router.get('/instances/:id/activity', async (ctx) => {
      const id = idParam(ctx.params.id, 'instance');
      await requireInstance(id);
      const from = (Math.floor(clock.now() / HOUR) - (HOURS - 1)) * HOUR;
      const [events, deliveries] = await Promise.all([perHour(db, 'events', 'created_at', id, from), perHour(db, 'notifications', 'delivered_at', id, from)]);
      ctx.body = {
        from: new Date(from).toISOString(),
        to: new Date(from + HOURS * HOUR).toISOString(),
        hours: Array.from({ length: HOURS }, (_, i) => ({
          hour: new Date(from + i * HOUR).toISOString(),
          events: events.get(i) ?? 0,
          deliveries: deliveries.get(i) ?? 0,
        })),
      };
    });
  };
}
