import type Router from '@koa/router';
import type { Knex } from 'knex';
import type { Clock } from '../clock.js';
import { readJsonObject } from '../api/body.js';
import { ApiError, NotFoundError } from '../errors.js';
import type { ConnectorRegistry } from './registry.js';

/** GET /elements[/:key] and POST /elements (custom connectors, stored so they survive a restart). */
export function connectorRoutes(db: Knex, registry: ConnectorRegistry, clock: Clock, maxBodyBytes: number) {
  return (router: Router) => {
    router.get('/elements', (ctx) => {
      ctx.body = registry.list().map((def) => registry.summary(def));
    });

    router.get('/elements/:key', (ctx) => {
      const def = registry.get(ctx.params.key);
      if (!def) throw new NotFoundError(`unknown connector "${ctx.params.key}"`);
      ctx.body = { ...registry.summary(def), definition: def };
    });

    router.post('/elements', async (ctx) => {
      const body = await readJsonObject(ctx, maxBodyBytes);
      let def;
      try {
        def = registry.register(body, { source: 'request body' });
      } catch (err) {
        if (err instanceof ApiError) throw err;
        const details = (err as { details?: unknown[] }).details ?? [];
        throw new ApiError(400, 'VALIDATION_ERROR', (err as Error).message, details);
      }
      await db('connectors').insert({ key: def.key, definition: JSON.stringify(def), created_at: clock.now() }).onConflict('key').merge();
      ctx.status = 201;
      ctx.body = registry.summary(def);
    });
  };
}
