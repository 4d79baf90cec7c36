import type Router from '@koa/router';
import type { RouteModule } from '../api/app.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { idParam, readPageRequest, sendPage } from '../api/pagination.js';
import type { EventRow, EventStore } from './store.js';

/** Normalized events: GET /instances/:id/events (newest first, filters) and GET /events/:id. */
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

export function eventRoutes({ stores, instances }: { stores: { events: EventStore }; instances: { require(id: number): Promise<unknown> } }): RouteModule {
  const { events } = stores;
  const requireInstance = (id: number) => instances.require(id);
  return (router: Router) => {
    router.get('/instances/:id/events', async (ctx) => {
      const instanceId = idParam(ctx.params.id, 'instance');
      await requireInstance(instanceId);
      const page = readPageRequest(ctx);
      const { objectType, eventType } = ctx.query;
      if (typeof eventType === 'string' && !EVENT_TYPES.includes(eventType)) {
        throw new ValidationError(`eventType must be one of ${EVENT_TYPES.join(', ')}`, [{ field: 'eventType' }]);
      }
      const rows = await events.list(instanceId, {
        before: page.before,
        limit: page.pageSize + 1,
        objectType: typeof objectType === 'string' ? objectType : undefined,
        eventType: typeof eventType === 'string' ? eventType : undefined,
      });
      sendPage(
        ctx,
        rows,
        page,
        (r) => r.id,
        (r) => present(r, ctx.query.includeRaw !== 'false'),
      );
    });

    router.get('/events/:id', async (ctx) => {
      const id = idParam(ctx.params.id, 'event');
      const row = await events.get(id);
      if (!row) throw new NotFoundError(`event ${id} does not exist`);
      ctx.body = present(row, true);
    });
  };
}
