/**
 * A counting semaphore for the loops' concurrency settings: at most `limit()` holders at once, the
 * others wait in arrival order, and a slot released is handed straight to the next waiter. The
 * limit is read at each acquire, so a changed setting applies to the next one. `tryAcquire` takes a
 * slot only when one is free now; `cancelWaiting` sends the waiters away without one (the delivery
 * dispatcher's per-origin slots, when an origin's circuit opens).
 */
export class Slots {
  private held = 0;
  private readonly waiting: Array<(granted: boolean) => void> = [];

  constructor(private readonly limit: () => number) {}

  /** Resolves true once a slot is held, or false when `cancelWaiting` sent this waiter away. */
  async acquire(): Promise<boolean> {
    if (this.tryAcquire()) return true;
    return new Promise<boolean>((resolve) => this.waiting.push(resolve));
  }

  /** Takes a slot if one is free; never waits. */
  tryAcquire(): boolean {
    if (this.held >= this.limit()) return false;
    this.held++;
    return true;
  }

  release(): void {
    const next = this.waiting.shift();
    if (next)
      next(true); // hand the slot over
    else this.held--;
  }

  /** Every waiter's acquire resolves false, without a slot; how many there were. */
  cancelWaiting(): number {
    const sent = this.waiting.splice(0);
    for (const resolve of sent) resolve(false);
    return sent.length;
  }

  /** Slots held now. */
  get inUse(): number {
    return this.held;
  }

  /** Acquires waiting for a slot now. */
  get waiters(): number {
    return this.waiting.length;
  }
}
