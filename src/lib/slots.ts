/**
 * A counting semaphore for the loops' concurrency settings: at most `limit()` holders at once, the
 * others wait in arrival order, and a slot released is handed straight to the next waiter. The
 * limit is read at each acquire, so a changed setting applies to the next one.
 */
export class Slots {
  private held = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: () => number) {}

  async acquire(): Promise<void> {
    if (this.held < this.limit()) {
      this.held++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next)
      next(); // hand the slot over
    else this.held--;
  }
}
