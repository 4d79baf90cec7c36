import type Router from '@koa/router';
import { readJsonObject } from '../api/body.js';
import { ApiError, NotFoundError, ValidationError } from '../errors.js';
import type { ConnectorCatalog } from './catalog.js';

/**
 * GET /elements[/:key], POST /elements (a new key; 409 when it exists) and PUT/DELETE
 * /elements/:key (custom connectors, stored so every node and every restart sees them; a PUT that
 * would send instances' secrets to another host needs `?moveSecrets=true`). Every API request
 * first brings this node's connectors up to date with the database (one single-row read when
 * nothing changed).
 */
export function connectorRoutes(catalog: ConnectorCatalog, maxBodyBytes: number) {
  const registry = catalog.registry;
  return (router: Router) => {
    router.use(async (_ctx, next) => {
      await catalog.sync();
      await next();
    });

    router.get('/elements', (ctx) => {
      ctx.body = registry.list().map((def) => registry.summary(def));
    });

    router.get('/elements/:key', (ctx) => {
      const def = registry.get(ctx.params.key);
      if (!def) throw new NotFoundError(`unknown connector "${ctx.params.key}"`);
      ctx.body = { ...registry.summary(def), definition: def };
    });

    const save = async (body: unknown, o: { key?: string; replace?: boolean; moveSecrets?: boolean } = {}) => {
      try {
        return await catalog.save(body, 'request body', o);
      } catch (err) {
        if (err instanceof ApiError) throw err;
        const details = (err as { details?: unknown[] }).details ?? [];
        throw new ApiError(400, 'VALIDATION_ERROR', (err as Error).message, details);
      }
    };

    router.post('/elements', async (ctx) => {
      const { def } = await save(await readJsonObject(ctx, maxBodyBytes));
      ctx.status = 201;
      ctx.body = registry.summary(def);
    });

    router.put('/elements/:key', async (ctx) => {
      const moveSecrets = ctx.query.moveSecrets;
      if (moveSecrets !== undefined && moveSecrets !== 'true' && moveSecrets !== 'false')
        throw new ValidationError('moveSecrets must be true or false', [{ field: 'moveSecrets', value: moveSecrets }]);
      const body = await readJsonObject(ctx, maxBodyBytes);
      const { def, created } = await save(body, { key: ctx.params.key, replace: true, moveSecrets: moveSecrets === 'true' });
      ctx.status = created ? 201 : 200;
      ctx.body = registry.summary(def);
    });

    router.delete('/elements/:key', async (ctx) => {
      await catalog.remove(ctx.params.key);
      ctx.status = 204;
    });
  };
}
