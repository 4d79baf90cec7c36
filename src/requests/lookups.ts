import type { RequestsContext } from './context.js';
import { ApiError } from '../errors.js';
import { firstMatch } from '../lib/json-path.js';
import type { InstanceHooks } from '../instances/hooks.js';
import { InvocationError, type TemplateInvoker } from './invoke.js';

/**
 * A connector's `events.lookups`, run once when an instance is created (either mode): each request
 * template is invoked (logged like any invocation) and the value at each `save` JSONPath is stored
 * in the instance's configuration under a key the instance left empty — Jira's user time zone as
 * `event.poller.timezone`, since Jira reads JQL dates in that zone. A lookup the provider refuses,
 * or a value that cannot be used, fails the create with 502 and the provider's answer, as a refused
 * webhook registration does.
 */
const TIME_ZONE_KEY = 'event.poller.timezone';

export function lookupInstanceHooks(
  ctx: Pick<RequestsContext, 'clock' | 'log'> & { stores: Pick<RequestsContext['stores'], 'instances'> },
  invoke: TemplateInvoker,
): InstanceHooks {
  return {
    async afterInstanceCreate(instance, connector) {
      const lookups = connector.events?.lookups ?? [];
      if (lookups.length === 0) return;
      const saved: Record<string, string> = {};
      const isEmpty = (key: string) => {
        const v = instance.configuration[key] ?? saved[key];
        return v === undefined || v === null || v === '';
      };
      for (const lookup of lookups) {
        const wanted = Object.entries(lookup.save).filter(([key]) => isEmpty(key));
        if (wanted.length === 0) continue;
        let answer: unknown;
        try {
          const outcome = await invoke(instance, lookup.request, { instanceId: instance.id });
          answer = outcome.response ? JSON.parse(outcome.response) : undefined;
        } catch (err) {
          if (err instanceof InvocationError && err.statusCode === 429) throw err;
          const detail = err instanceof InvocationError ? { status: err.outcome.status, response: err.outcome.response } : {};
          throw new ApiError(502, 'PROVIDER_LOOKUP_FAILED', `the provider refused the lookup "${lookup.request}": ${(err as Error).message}`, [
            { request: lookup.request, ...detail },
          ]);
        }
        for (const [key, path] of wanted) {
          const found = firstMatch(answer, path);
          if (typeof found !== 'string' && typeof found !== 'number') continue;
          const value = String(found);
          if (key === TIME_ZONE_KEY && !isTimeZone(value))
            throw new ApiError(
              502,
              'PROVIDER_LOOKUP_FAILED',
              `the lookup "${lookup.request}" answered ${JSON.stringify(value)}, which is not an IANA time zone`,
              [{ request: lookup.request, field: key }],
            );
          saved[key] = value;
        }
      }
      if (Object.keys(saved).length === 0) return;
      // Re-read: a hook that ran before this one may have saved values too.
      const current = (await ctx.stores.instances.get(instance.id)) ?? instance;
      await ctx.stores.instances.update(
        instance.id,
        { elementKey: instance.elementKey, configuration: { ...current.configuration, ...saved } },
        ctx.clock.now(),
      );
      ctx.log.info({ instanceId: instance.id, saved: Object.keys(saved) }, 'instance configuration completed from the provider');
    },
  };
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
