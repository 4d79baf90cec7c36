import type Router from '@koa/router';
import type { RouteModule } from './app.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { openApiDocument } from './openapi.js';

/**
 * Health (cheap: no database), readiness (connected and migrated: `isReady` throws when the
 * database is unreachable) and Prometheus metrics.
 */
export function opsRoutes({
  database,
  metrics,
  nodeId,
  version,
  log,
}: {
  database: { isReady(): Promise<boolean> };
  metrics: Metrics;
  nodeId: string;
  version: string;
  log: Logger;
}): RouteModule {
  return (router: Router) => {
    router.get('/health', (ctx) => {
      ctx.body = { status: 'ok', node: nodeId, version };
    });

    router.get('/health/ready', async (ctx) => {
      try {
        const migrated = await database.isReady();
        ctx.status = migrated ? 200 : 503;
        ctx.body = { status: migrated ? 'ready' : 'migrating', node: nodeId, database: 'connected', migrated };
      } catch (err) {
        // The database's own message can name hosts and users: it goes to the log, not to anyone who asks.
        log.warn({ err }, 'readiness check: the database is unreachable');
        ctx.status = 503;
        ctx.body = {
          status: 'unavailable',
          node: nodeId,
          database: 'unreachable',
          migrated: false,
          message: 'the database is unreachable; the gateway log has the details',
        };
      }
    });

    router.get('/openapi.json', (ctx) => {
      ctx.body = openApiDocument(version);
    });

    router.get('/metrics', async (ctx) => {
      ctx.type = metrics.registry.contentType;
      ctx.body = await metrics.registry.metrics();
    });
  };
}
