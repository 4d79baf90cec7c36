import type Router from '@koa/router';
import type { RouteModule } from '../api/app.js';
import { idParam } from '../api/pagination.js';
import type { InstanceCheck } from './service.js';

/** POST /instances/:id/check: the live, read-only check of an instance against its provider (service.ts). */
export function checkRoutes({ check }: { check: InstanceCheck }): RouteModule {
  return (router: Router) => {
    router.post('/instances/:id/check', async (ctx) => {
      ctx.body = await check(idParam(ctx.params.id, 'instance'));
    });
  };
}
