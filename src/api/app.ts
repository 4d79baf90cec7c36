import Koa from 'koa';
import Router from '@koa/router';
import type { Logger } from '../log.js';
import { ApiError, NotFoundError } from '../errors.js';
import { requireBearer } from './auth.js';

/**
 * The koa application: one error middleware, the operational routes without auth, and the
 * /elements/api-v2 router behind the bearer token. Feature folders add their routes through
 * `RouteModule`s so this file stays the same size as features grow.
 */
export type RouteModule = (router: Router) => void;

export interface AppOptions {
  log: Logger;
  apiToken: string;
  /** Routes under /elements/api-v2 (bearer auth). */
  api: RouteModule[];
  /** Routes at the root without the bearer token (health, metrics, webhook ingress). */
  open: RouteModule[];
}

export const API_PREFIX = '/elements/api-v2';

export function createApp(options: AppOptions): Koa {
  const app = new Koa();
  app.proxy = false;
  app.silent = true;
  app.use(errorMiddleware(options.log));

  const open = new Router();
  for (const add of options.open) add(open);
  app.use(open.routes()).use(open.allowedMethods({ throw: true, methodNotAllowed: methodNotAllowed }));

  const api = new Router({ prefix: API_PREFIX });
  api.use(requireBearer(options.apiToken));
  for (const add of options.api) add(api);
  app.use(api.routes()).use(api.allowedMethods({ throw: true, methodNotAllowed: methodNotAllowed }));

  app.use((ctx) => {
    throw new NotFoundError(`no route for ${ctx.method} ${ctx.path}`);
  });
  return app;
}

function methodNotAllowed(): ApiError {
  return new ApiError(405, 'METHOD_NOT_ALLOWED', 'this method is not allowed on this path');
}

/** Turns every error into a JSON answer; only unexpected ones (500) are logged, never sent in full. */
export function errorMiddleware(log: Logger): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (err instanceof ApiError) {
        ctx.status = err.statusCode;
        ctx.set(err.headers);
        ctx.body = err.toJSON();
        return;
      }
      const status = (err as { status?: number; expose?: boolean }).status;
      if (status && status >= 400 && status < 500) {
        // koa/router's own http-errors (e.g. 405 from allowedMethods without our factory).
        ctx.status = status;
        ctx.body = { code: 'BAD_REQUEST', message: (err as Error).message, details: [] };
        return;
      }
      log.error({ err, method: ctx.method, path: ctx.path }, 'unexpected error');
      ctx.status = 500;
      ctx.body = { code: 'INTERNAL_ERROR', message: 'an unexpected error occurred; it has been logged', details: [] };
    }
  };
}
