import type Router from '@koa/router';
import type { RouteModule } from '../api/app.js';
import { isoOrNull, type Clock } from '../clock.js';
import { idParam } from '../api/pagination.js';
import type { InstanceService } from '../instances/service.js';
import type { Instance } from '../instances/store.js';
import type { EventStore } from '../events/store.js';
import type { Poller } from './poller.js';
import type { PollStateStore } from './store.js';

/** Poll now, and the per-object status ops watch. */
const iso = isoOrNull;

/**
 * `authStatusOf` adds the provider-auth state (OAuth connectors) to the status, `rateLimitOf` the
 * rate budget of the instance's scope (connectors that declare one), `deliveryOf` the answering
 * node's view of the callback origin (its circuit breaker), `webhooksOf` the provider webhooks that
 * lapse unless refreshed (when each lapses and is refreshed next).
 */
export interface PollerRouteDeps {
  stores: { pollState: PollStateStore; events: EventStore };
  poller: Poller;
  instances: InstanceService;
  clock: Clock;
  authStatusOf?: (instance: Instance) => Promise<unknown>;
  rateLimitOf?: (instance: Instance) => Promise<unknown>;
  deliveryOf?: (instance: Instance) => unknown;
  webhooksOf?: (instance: Instance) => Promise<unknown>;
}

export function pollerRoutes({ stores, poller, instances, clock, authStatusOf, rateLimitOf, deliveryOf, webhooksOf }: PollerRouteDeps): RouteModule {
  const { pollState, events } = stores;
  return (router: Router) => {
    router.post('/instances/:id/events/poll', async (ctx) => {
      const { objectType } = ctx.query;
      ctx.body = await poller.pollNow(idParam(ctx.params.id, 'instance'), typeof objectType === 'string' ? objectType : undefined);
    });

    router.get('/instances/:id/status', async (ctx) => {
      const instance = await instances.require(idParam(ctx.params.id, 'instance'));
      const now = clock.now();
      const rows = await pollState.objectsOf(instance.id);
      const objects: Record<string, unknown> = {};
      for (const r of rows) {
        objects[r.object_type] = {
          intervalSeconds: r.interval_ms / 1000,
          polling: r.lease_owner !== null && (r.lease_expires_at ?? 0) > now,
          lastPollDate: iso(r.last_poll_at),
          lastSuccessDate: iso(r.last_success_at),
          lastDurationMs: r.last_duration_ms,
          fetched: r.last_fetched,
          events: { created: r.last_created ?? 0, updated: r.last_updated ?? 0, deleted: r.last_deleted ?? 0 },
          lastError: r.last_error,
          lastErrorDate: iso(r.last_error_at),
          consecutiveFailures: r.failures,
          // A failing object waits longer than its interval (doubling, capped); success resets it.
          backoffUntil: r.failures > 0 ? iso(r.next_poll_at) : null,
          nextPollDate: iso(r.next_poll_at),
          // How old the freshest complete view of this object is.
          lagSeconds: Math.max(0, Math.round((now - (r.last_success_at ?? r.watermark)) / 1000)),
          node: r.last_node,
        };
      }
      const notifications = await events.notificationCounts(instance.id);
      const auth = await authStatusOf?.(instance);
      const rateLimit = await rateLimitOf?.(instance);
      const delivery = deliveryOf?.(instance);
      const webhooks = await webhooksOf?.(instance);
      ctx.body = {
        instanceId: instance.id,
        eventsEnabled: instance.eventsEnabled,
        callbackDisabled: instance.callbackDisabled,
        vendorType: instance.vendorType,
        ...(auth ? { auth } : {}),
        ...(rateLimit ? { rateLimit } : {}),
        objects,
        notifications,
        ...(delivery ? { delivery } : {}),
        ...(webhooks ? { webhooks } : {}),
      };
    });
  };
}
