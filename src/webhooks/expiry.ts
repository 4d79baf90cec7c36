import type { WebhooksContext } from './context.js';
import type { WebhookExpiry, WebhookRegistration } from '../connectors/schema.js';
import { firstMatch } from '../lib/json-path.js';

/**
 * When a registration with `expiry` lapses and when to refresh it: read when it is made
 * (registration.ts) and after each refresh (refresh.ts, the loop that refreshes it).
 */

/** When the webhook lapses (epoch ms), from the provider's answer or the configured lifetime. */
export function expiresAtOf(expiry: WebhookExpiry, answer: unknown, now: number): number | undefined {
  let found = expiry.expiresAtPath && answer !== undefined && answer !== null ? firstMatch(answer, expiry.expiresAtPath) : undefined;
  // An epoch in a string (an int64 as JSON string) is read as the number it is.
  if (typeof found === 'string' && /^\d{9,16}$/.test(found)) found = Number(found);
  let at = Number.NaN;
  // `+0000` offsets (no colon) are read as `+00:00`; a number is epoch seconds or milliseconds.
  if (typeof found === 'string') at = Date.parse(found.replace(/([+-]\d\d)(\d\d)$/, '$1:$2'));
  else if (typeof found === 'number') at = found < 1e12 ? found * 1000 : found;
  if (Number.isFinite(at)) return at;
  return expiry.seconds !== undefined ? now + expiry.seconds * 1000 : undefined;
}

/**
 * What register and refresh templates may ask for: `context.expiresAt`, the end of the lifetime
 * asked for (`seconds` from now, ISO 8601), for providers where the client names the expiry
 * (a subscription's `expirationDateTime`, at most a provider-set maximum).
 */
export function expiryContext(expiry: WebhookExpiry | undefined, now: number): { expiresAt?: string } {
  return expiry?.seconds !== undefined ? { expiresAt: new Date(now + expiry.seconds * 1000).toISOString() } : {};
}

/** Halfway to the expiry: early enough for retries, late enough not to refresh all the time. */
export const refreshAtOf = (now: number, expiresAt: number) => now + Math.max(0, Math.floor((expiresAt - now) / 2));

/** Starts tracking a registration just made (afterCreate). */
export async function trackExpiry(
  ctx: Pick<WebhooksContext, 'clock' | 'log'> & { stores: Pick<WebhooksContext['stores'], 'refreshes'> },
  instanceId: number,
  registration: WebhookRegistration,
  webhookId: string,
  answer: unknown,
) {
  const now = ctx.clock.now();
  const expiresAt = expiresAtOf(registration.expiry!, answer, now);
  if (expiresAt === undefined) {
    ctx.log.warn({ instanceId, registration: registration.name }, 'webhook registration answer carries no expiry; it is refreshed at once');
  }
  await ctx.stores.refreshes.track({
    instanceId,
    registration: registration.name,
    webhookId,
    expiresAt: expiresAt ?? now,
    refreshAt: expiresAt ? refreshAtOf(now, expiresAt) : now,
    now,
  });
}
