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
