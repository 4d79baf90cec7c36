import type { HookFactory } from './calls.js';

/**
 * Leaky-bucket pacing for providers that report their bucket in a header as `used/size`
 * (Shopify's `X-Shopify-Shop-Api-Call-Limit: 32/40`, draining `leakPerSecond`). A connector opts
 * in with `rateLimitHeaders: {"bucket": "<header>", "leakPerSecond": n}`. Each answer records the
 * instance's bucket; before the next call of that instance (a poll page, a registration, a
 * template) pollgate waits until the bucket has drained enough to keep one request spare, so the
 * provider never has to answer 429. The state lives in this process, per connector and instance.
 */
type Bucket = { used: number; size: number; at: number };

const BUCKET = /^\s*(\d+)\s*\/\s*(\d+)\s*$/;

export function callLimitHooks(sleep: (ms: number) => Promise<void>, now: () => number): HookFactory {
  const buckets = new Map<string, Bucket>();
  return (target) => {
    const headers = target.connector.rateLimitHeaders;
    if (!headers?.bucket) return undefined;
    const header = headers.bucket.toLowerCase();
    const leak = headers.leakPerSecond ?? 1;
    const key = `${target.connector.key}:${target.instanceId ?? JSON.stringify(target.configuration)}`;
    return {
      async beforeSend(request) {
        const bucket = buckets.get(key);
        if (!bucket) return request;
        const fillAt = (t: number) => Math.max(0, bucket.used - ((t - bucket.at) / 1000) * leak);
        // Room for this request and one spare: wait for the excess to leak away.
        const excess = fillAt(now()) + 2 - bucket.size;
        if (excess > 0) await sleep(Math.ceil((excess / leak) * 1000));
        // Count this call at once, so calls of the instance running side by side see each other.
        const at = now();
        buckets.set(key, { used: fillAt(at) + 1, size: bucket.size, at });
        return request;
      },
      afterAnswer(answer) {
        const value = answer.headers[header];
        const m = BUCKET.exec(Array.isArray(value) ? value[0] : (value ?? ''));
        if (m) buckets.set(key, { used: Number(m[1]), size: Number(m[2]), at: now() });
      },
    };
  };
}
