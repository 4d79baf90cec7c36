/**
 * Time comes from a Clock so tests drive it instead of sleeping. Everything that reads "now" or
 * waits for a retry goes through the gateway's clock; `ManualClock` is the test double.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export class ManualClock implements Clock {
  constructor(private current = Date.parse('2026-11-24T10:00:00.000Z')) {}
  now(): number {
    return this.current;
  }
  set(ms: number | string | Date): void {
    this.current = typeof ms === 'number' ? ms : new Date(ms).getTime();
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

/** ISO 8601 for an epoch-ms column that may be empty (API answers). */
export const isoOrNull = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/** A repeating timer; `cancel` stops it. */
export interface Ticker {
  cancel(): void;
}

/**
 * Runs `tick` every `seconds` (fractions allowed; at least 10 ms) on an unref'd interval timer — the
 * one way the background loops (polls, deliveries, webhook mapping, schedules) are driven. The
 * timer never keeps the process alive on its own; each loop's tick skips itself while its previous
 * run is still going.
 */
export function everySeconds(seconds: number, tick: () => Promise<unknown>): Ticker {
  const timer = setInterval(() => void tick(), Math.max(10, Math.round(seconds * 1000)));
  timer.unref();
  return { cancel: () => clearInterval(timer) };
}
