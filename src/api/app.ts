import Koa from 'koa';
import Router from '@koa/router';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { ApiError, NotFoundError, ServiceUnavailableError } from '../errors.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { requireBearer } from './auth.js';

/**
 * The koa application: one error middleware, then authentication for every request, then the
 * routers. Feature folders add their routes through `RouteModule`s so this file stays the same size
 * as features grow.
 *
 * Authentication is deny-by-default and app-level: a request passes without the bearer token only
 * when its path is, to the letter, one of `OPEN_PATHS`. Routers match case-sensitively and
 * strictly, so a case variant, an encoded letter, a double or trailing slash of an open path is
 * not open — it needs the token like everything else.
 */
export type RouteModule = (router: Router) => void;

export interface AppOptions {
  log: Logger;
  apiToken: string;
  /** Routes under /elements/api-v2 (bearer auth). */
  api: RouteModule[];
  /** Routes at the root; open only when listed in `openPaths`, otherwise behind the token. */
  open: RouteModule[];
  /** Paths served without the token, matched exactly (case-sensitive) against the raw path. */
  openPaths?: RegExp[];
  /** `metrics.public`: serve /metrics without the token too. */
  metricsPublic?: boolean;
  /** Counts the errors the error middleware catches. */
  metrics?: Metrics;
}

export const API_PREFIX = '/elements/api-v2';

/**
 * The paths anyone may call: health, readiness, the API description, webhook ingress, and the web
 * console's static files (the page and its assets hold no data; the console calls the API with the
 * token its user types).
 */
export const OPEN_PATHS: RegExp[] = [
  /^\/health$/,
  /^\/health\/ready$/,
  /^\/openapi\.json$/,
  /^\/hooks\/[A-Za-z0-9_-]+$/,
  /^\/console$/,
  /^\/console\/(app|api|dom|views|chart|connectors|configuration)\.js$/,
  /^\/console\/style\.css$/,
  // The connect page (its token is its credential) and the OAuth redirect URI it hands providers.
  /^\/connect\/[A-Za-z0-9_-]{43}$/,
  /^\/oauth\/callback$/,
];
/** Open only with `metrics.public` (for a scraper without the token, behind a private network). */
const METRICS_PATH = /^\/metrics$/;

const ROUTER_OPTIONS = { sensitive: true, strict: true } as const;

export function createApp(options: AppOptions): Koa {
  const app = new Koa();
  app.proxy = false;
  app.silent = true;
  app.use(errorMiddleware(options.log, options.metrics));
  app.use(authenticate(options.apiToken, [...(options.openPaths ?? OPEN_PATHS), ...(options.metricsPublic ? [METRICS_PATH] : [])]));

  const open = new Router(ROUTER_OPTIONS);
  for (const add of options.open) add(open);
  app.use(open.routes()).use(open.allowedMethods({ throw: true, methodNotAllowed: methodNotAllowed }));

  const api = new Router({ ...ROUTER_OPTIONS, prefix: API_PREFIX });
  for (const add of options.api) add(api);
  app.use(api.routes()).use(api.allowedMethods({ throw: true, methodNotAllowed: methodNotAllowed }));

  app.use((ctx) => {
    throw new NotFoundError(`no route for ${ctx.method} ${ctx.path}`);
  });
  return app;
}

/** Every request needs the bearer token unless its raw path is one of the open paths. */
function authenticate(apiToken: string, openPaths: RegExp[]): Koa.Middleware {
  const bearer = requireBearer(apiToken);
  return (ctx, next) => {
    // ctx.path is the undecoded path: `/heal%74h` is not `/health`.
    if (openPaths.some((p) => p.test(ctx.path))) return next();
    return bearer(ctx, next);
  };
}

function methodNotAllowed(): ApiError {
  return new ApiError(405, 'METHOD_NOT_ALLOWED', 'this method is not allowed on this path');
}

/**
 * Turns every error into a JSON answer; only unexpected ones (500) are logged, never sent in full.
 * A database that is unreachable or locked for now is no failure of the request: 503 with
 * Retry-After, which clients and webhook providers retry.
 */
export function errorMiddleware(log: Logger, metrics?: Metrics): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (caught) {
      let err = caught;
      const ingress = ctx.path.startsWith('/hooks/');
      const component = ingress ? 'ingress' : 'api';
      // A webhook URL's token and a connect page's token are secrets: logs name the route, not the token.
      const path = ingress ? '/hooks/********' : ctx.path.startsWith('/connect/') ? '/connect/********' : ctx.path;
      if (!(err instanceof ApiError) && isDatabaseUnavailable(err)) {
        metrics?.errors.inc({ component, kind: 'database_unavailable' });
        log.warn({ err: (err as Error).message, method: ctx.method, path }, 'the database is unavailable: answered 503');
        err = new ServiceUnavailableError('the database is unavailable for now; try again shortly', DATABASE_RETRY_AFTER_SECONDS, 'DATABASE_UNAVAILABLE');
      }
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
      metrics?.errors.inc({ component, kind: 'unexpected' });
      log.error({ err, method: ctx.method, path }, 'unexpected error');
      ctx.status = 500;
      ctx.body = { code: 'INTERNAL_ERROR', message: 'an unexpected error occurred; it has been logged', details: [] };
    }
  };
}

/** What a 503 for an unavailable database asks the caller to wait: short, most outages are a restart or a failover. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;
