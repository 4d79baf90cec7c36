import type { RecordedRequest } from '../../sandbox/provider-server.js';

/**
 * Small pieces the provider emulators (test/providers/<key>/) share: a per-window request counter
 * for rate-limit headers, query-parameter checks, and date forms.
 */
export class RateWindow {
  private windowStart = 0;
  private used = 0;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  /** Counts one request; answers what is left in the current window and when it resets (epoch ms). */
  take(): { used: number; remaining: number; resetAt: number } {
    const now = this.now();
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now - (now % this.windowMs);
      this.used = 0;
    }
    this.used++;
    return { used: this.used, remaining: Math.max(0, this.limit - this.used), resetAt: this.windowStart + this.windowMs };
  }
}

/** The query parameters of a request that are not in `allowed`. */
export function unknownParams(req: Pick<RecordedRequest, 'query'>, allowed: readonly string[]): string[] {
  return Object.keys(req.query).filter((k) => !allowed.includes(k));
}

/** `2026-11-25T10:00:00.000Z` → `2026-11-25T10:00:00Z` (providers that answer in whole seconds). */
export function isoSeconds(iso: string): string {
  return iso.replace(/\.\d{3}Z$/, 'Z');
}

/** A strict ISO 8601 date-time (offset or Z required) or a plain date, as epoch ms; undefined if malformed. */
export function parseIsoParam(value: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/.test(value)) return undefined;
  const ms = Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value);
  return Number.isNaN(ms) ? undefined : ms;
}
