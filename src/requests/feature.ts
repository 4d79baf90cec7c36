import type Router from '@koa/router';
import type { Feature, GatewayContext } from '../context.js';
import { readJsonObject } from '../api/body.js';
import { idParam, readPageRequest, sendPage } from '../api/pagination.js';
import { RateLimiter } from '../api/rate-limit.js';
import { ApiError, NotFoundError, RateLimitedError, ValidationError } from '../errors.js';
import { buildTemplateRequest } from '../provider/request-builder.js';
import { ProviderError, sendProviderRequest } from '../provider/http-client.js';
import { isSecretKey, redactText } from '../secrets/redact.js';
import type { Instance } from '../instances/store.js';

/**
 * Invoking a connector's request template for an instance (Freshworks' request method):
 * POST /instances/:id/requests/:template {"context": {…}} → 200 {status, headers, response};
 * a provider error → 502 with errorSource APP; a gateway-side failure → PLATFORM (504 timeout,
 * 502 unreachable or blocked, 429 rate limit). Every call is logged with secrets redacted.
 */
function secretValues(ctx: GatewayContext, instance: Instance): string[] {
  const secrets = ctx.secretsOf(instance.elementKey);
  return Object.entries(instance.configuration)
    .filter(([k, v]) => isSecretKey(k, secrets) && typeof v === 'string')
    .map(([, v]) => v as string);
}

export function requestsFeature(ctx: GatewayContext): Feature {
  const { db, clock, log, instances, connectors, config } = ctx;
  const limiter = new RateLimiter(config.requests.rateLimitPerMinute, clock);

  async function invoke(instance: Instance, name: string, context: Record<string, unknown>) {
    const connector = instances.connectorOf(instance);
    const template = connector.requests?.[name];
    if (!template) throw new NotFoundError(`connector "${connector.key}" has no request template "${name}"`);
    const wait = limiter.hit(`requests:${instance.id}`);
    if (wait > 0) throw new RateLimitedError(`this instance may invoke at most ${config.requests.rateLimitPerMinute} request templates a minute`, wait);
    const accessToken = instance.configuration.access_token ?? instance.configuration['oauth.access_token'];
    const scope = { iparam: instance.configuration, context, access_token: typeof accessToken === 'string' ? accessToken : undefined };
    const { request, options, redactedUrl } = buildTemplateRequest({ baseUrl: connector.baseUrl, auth: connector.auth, template, scope });
    const secrets = secretValues(ctx, instance);
    const url = redactText(redactedUrl, secrets);
    const started = clock.now();
    const entry = { instance_id: instance.id, template: name, method: request.method, url, at: started };
    try {
      const result = await sendProviderRequest(request, {
        maxAttempts: options.maxAttempts, retryDelayMs: options.retryDelay, timeoutMs: options.timeout,
        policy: config.network, sleep: ctx.sleep, maxRetryAfterMs: config.provider.maxRetryAfterSeconds * 1000,
      });
      await db('request_log').insert({ ...entry, status: result.status, attempts: result.attempts, duration_ms: result.durationMs });
      log.info({ instanceId: instance.id, template: name, method: request.method, url, status: result.status, attempts: result.attempts }, 'request template invoked');
      return { status: result.status, headers: result.headers, response: result.response };
    } catch (err) {
      if (!(err instanceof ProviderError)) throw err;
      const message = redactText(err.message, secrets);
      await db('request_log').insert({ ...entry, status: err.status || null, error_source: err.errorSource, attempts: err.attempts, duration_ms: clock.now() - started, error: message });
      log.warn({ instanceId: instance.id, template: name, method: request.method, url, status: err.status, errorSource: err.errorSource, attempts: err.attempts, err: message }, 'request template failed');
      const status = err.errorSource === 'APP' ? 502 : err.code === 'ETIMEDOUT' ? 504 : 502;
      throw new ApiError(status, err.errorSource === 'APP' ? 'PROVIDER_ERROR' : 'PLATFORM_ERROR', message, [
        { status: err.status, headers: err.headers, response: err.response, errorSource: err.errorSource, attempts: err.attempts },
      ]);
    }
  }

  const routes = (router: Router) => {
    router.post('/instances/:id/requests/:template', async (koa) => {
      const instance = await instances.require(idParam(koa.params.id, 'instance'));
      const body = (await readJsonObject(koa, config.server.maxBodyBytes).catch((err) => {
        // An empty body is an empty context.
        if (err instanceof ValidationError && /JSON object/.test(err.message)) return {};
        throw err;
      })) as { context?: unknown };
      if (body.context !== undefined && (typeof body.context !== 'object' || body.context === null || Array.isArray(body.context))) {
        throw new ValidationError('context must be an object', [{ field: 'context' }]);
      }
      try {
        koa.body = await invoke(instance, koa.params.template, (body.context as Record<string, unknown>) ?? {});
      } catch (err) {
        // Freshworks' error shape: the provider's answer at the top level, beside code and message.
        if (err instanceof ApiError && (err.statusCode === 502 || err.statusCode === 504)) {
          koa.status = err.statusCode;
          koa.body = { ...err.toJSON(), ...(err.details[0] as object) };
          return;
        }
        if (err instanceof RateLimitedError) {
          koa.status = 429;
          koa.set(err.headers);
          koa.body = { ...err.toJSON(), status: 429, headers: {}, response: '', errorSource: 'PLATFORM', attempts: 0 };
          return;
        }
        throw err;
      }
    });

    router.get('/instances/:id/requests/log', async (koa) => {
      const instance = await instances.require(idParam(koa.params.id, 'instance'));
      const page = readPageRequest(koa);
      const q = db('request_log').where({ instance_id: instance.id }).orderBy('id', 'desc').limit(page.pageSize + 1);
      if (page.before) q.where('id', '<', page.before);
      sendPage(koa, await q, page, (r: { id: number }) => r.id, (r: Record<string, unknown>) => ({
        id: r.id, template: r.template, method: r.method, url: r.url, status: r.status, errorSource: r.error_source,
        attempts: r.attempts, durationMs: r.duration_ms, error: r.error, date: new Date(r.at as number).toISOString(),
      }));
    });

    router.get('/elements/:key/requests', (koa) => {
      const def = connectors.get(koa.params.key);
      if (!def) throw new NotFoundError(`unknown connector "${koa.params.key}"`);
      koa.body = Object.entries(def.requests ?? {}).map(([name, t]) => ({
        name, method: (t.schema.method ?? 'GET').toUpperCase(), host: t.schema.host ?? null, path: t.schema.path ?? '', options: t.options ?? {},
      }));
    });
  };

  return { name: 'requests', apiRoutes: [routes] };
}
