import type Router from '@koa/router';
import type { Knex } from 'knex';
import { NotFoundError, ValidationError } from '../errors.js';
import { idParam, readPageRequest, sendPage } from '../api/pagination.js';

/** Normalized events: GET /instances/:id/events (newest first, filters) and GET /events/:id. */
interface EventRow {
  id: number;
  instance_id: number;
  sequence: number;
  event_type: string;
  object_type: string;
  object_id: string;
  element_key: string;
  date: string;
  raw: string | null;
  source: string;
  notification_id: string | null;
  notification_status?: string | null;
  created_at: number;
}

const EVENT_TYPES = ['CREATED', 'UPDATED', 'DELETED', 'UNKNOWN'];

function present(row: EventRow, withRaw: boolean) {
  return {
    id: row.id,
    instanceId: row.instance_id,
    eventType: row.event_type,
    objectType: row.object_type,
    objectId: row.object_id,
    elementKey: row.element_key,
    date: row.date,
    sequence: row.sequence,
    source: row.source,
    createdDate: new Date(row.created_at).toISOString(),
    notification: row.notification_id ? { id: row.notification_id, status: row.notification_status ?? null } : null,
    ...(withRaw ? { raw: row.raw ? JSON.parse(row.raw) : null } : {}),
  };
}

function selectEvents(db: Knex) {
  return db('events')
    .leftJoin('notifications', 'notifications.id', 'events.notification_id')
    .select('events.*', 'notifications.status as notification_status');
}

export function eventRoutes(db: Knex, requireInstance: (id: number) => Promise<unknown>) {
  return (router: Router) => {
    router.get('/instances/:id/events', async (ctx) => {
      const instanceId = idParam(ctx.params.id, 'instance');
      await requireInstance(instanceId);
      const page = readPageRequest(ctx);
      const q = selectEvents(db).where('events.instance_id', instanceId).orderBy('events.id', 'desc').limit(page.pageSize + 1);
      if (page.before) q.where('events.id', '<', page.before);
      const { objectType, eventType } = ctx.query;
      if (typeof objectType === 'string') q.where('events.object_type', objectType);
      if (typeof eventType === 'string') {
        if (!EVENT_TYPES.includes(eventType)) throw new ValidationError(`eventType must be one of ${EVENT_TYPES.join(', ')}`, [{ field: 'eventType' }]);
        q.where('events.event_type', eventType);
      }
      const rows = (await q) as EventRow[];
      sendPage(ctx, rows, page, (r) => r.id, (r) => present(r, ctx.query.includeRaw !== 'false'));
    });

    router.get('/events/:id', async (ctx) => {
      const id = idParam(ctx.params.id, 'event');
      const row = (await selectEvents(db).where('events.id', id).first()) as EventRow | undefined;
      if (!row) throw new NotFoundError(`event ${id} does not exist`);
      ctx.body = present(row, true);
    });
  };
}
