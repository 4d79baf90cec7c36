/**
 * Group commit: items submitted while a batch is being written are written together in the next
 * batch, and each submitter is answered once its batch is committed. Durability is the same as one
 * write per item; the database does a fraction of the commits (SQLite has a single writer).
 */
type Waiter<T, R> = { item: T; resolve: (result: R) => void; reject: (err: unknown) => void };

export class GroupCommit<T, R> {
  private queue: Array<Waiter<T, R>> = [];
  private writing = false;

  constructor(
    /** Writes one batch; answers one result per item, in order. */
    private readonly writeBatch: (items: T[]) => Promise<R[]>,
    private readonly maxBatch = 500,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        try {
          const results = await this.writeBatch(batch.map((w) => w.item));
          batch.forEach((w, i) => w.resolve(results[i]));
        } catch (err) {
          for (const w of batch) w.reject(err);
        }
      }
    } finally {
      this.writing = false;
    }
  }
}
