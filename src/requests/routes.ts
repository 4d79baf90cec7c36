import type Router from '@koa/router';
import type { RequestsContext } from './context.js';
import { readJsonBody } from '../api/body.js';
import { idParam, readPageRequest, sendPage } from '../api/pagination.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { isoOrNull } from '../clock.js';
import { createTemplateInvoker } from './invoke.js';
import type { RequestLogRow } from './store.js';

/**
 * The request-template API:
 *   POST /instances/:id/requests/:template {"context", "body"}  invoke (see invoke.ts for the answers)
 *   GET  /instances/:id/requests/log                        the invocation log, newest first, paged
 *   GET  /elements/:key/requests                            a connector's templates (no values)
 */
const presentLogRow = (r: RequestLogRow) => ({
  id: r.id,
  template: r.template,
  method: r.method,
  url: r.url,
  status: r.status,
  errorSource: r.error_source,
  attempts: r.attempts,
  durationMs: r.duration_ms,
  error: r.error,
  date: isoOrNull(r.at),
});

export function requestRoutes(ctx: RequestsContext) {
  const { instances, connectors, config } = ctx;
  const requestLog = ctx.stores.requestLog;
  const invoke = createTemplateInvoker(ctx, requestLog);

  const routes = (router: Router) => {
    router.post('/instances/:id/requests/:template', async (koa) => {
      const instance = await instances.require(idParam(koa.params.id, 'instance'));
      // An empty body is an empty context.
      const body = (await readJsonBody(koa, config.server.maxBodyBytes)) ?? {};
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw new ValidationError('the request body must be a JSON object like {"context": {…}, "body": "…"}');
      const context = (body as { context?: unknown }).context ?? {};
      if (typeof context !== 'object' || context === null || Array.isArray(context))
        throw new ValidationError('context must be a JSON object', [{ field: 'context' }]);
      // Freshworks' invokeTemplate(name, {context, body}): a string body is sent as is, any other JSON value as JSON.
      const requestBody = (body as { body?: unknown }).body;
      if (requestBody === null) throw new ValidationError('body must be a string or a JSON value other than null', [{ field: 'body' }]);
      koa.body = await invoke(instance, koa.params.template, context as Record<string, unknown>, requestBody);
    });

    router.get('/instances/:id/requests/log', async (koa) => {
      const instance = await instances.require(idParam(koa.params.id, 'instance'));
      const page = readPageRequest(koa);
      sendPage(koa, await requestLog.list(instance.id, page.before, page.pageSize + 1), page, (r) => r.id, presentLogRow);
    });

    router.get('/elements/:key/requests', (koa) => {
      const def = connectors.get(koa.params.key);
      if (!def) throw new NotFoundError(`unknown connector "${koa.params.key}"`);
      // Template text only (never an instance's values): method, where it goes, and its options.
      koa.body = Object.entries(def.requests ?? {}).map(([name, t]) => ({
        name,
        method: (t.schema.method ?? 'GET').toUpperCase(),
        host: t.schema.host ?? null,
        path: t.schema.path ?? '',
        options: t.options ?? {},
      }));
    });
  };

  return routes;
}
