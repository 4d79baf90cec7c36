import type { Knex } from 'knex';
import { bulkInsert } from '../db/bulk.js';

/**
 * Group commit for ingress: receipts that arrive while a write is in progress are written together
 * in the next multi-row INSERT, and each request is answered once its row is committed. Durability
 * is the same as one INSERT per request; the database does a fraction of the commits.
 */
export interface ReceiptRow {
  instance_id: number;
  received_at: number;
  content_type: string | null;
  headers: string;
  body: string;
  delivery_id: string | null;
  verified: boolean;
  status: 'pending';
  next_attempt_at: number;
}

type Waiter = { row: ReceiptRow; resolve: (accepted: boolean) => void; reject: (err: unknown) => void };
const MAX_BATCH = 500;

export class ReceiptWriter {
  private queue: Waiter[] = [];
  private writing = false;

  constructor(private readonly db: Knex) {}

  /** Resolves true when stored, false when the (instance, delivery id) was already stored. */
  write(row: ReceiptRow): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH);
        try {
          const stored = await this.insert(batch.map((w) => w.row));
          batch.forEach((w, i) => w.resolve(stored[i]));
        } catch (err) {
          for (const w of batch) w.reject(err);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private async insert(rows: ReceiptRow[]): Promise<boolean[]> {
    // A delivery id seen twice in one batch is a duplicate of the first.
    const seen = new Set<string>();
    const unique: ReceiptRow[] = [];
    const firstOfKey: boolean[] = rows.map((r) => {
      if (r.delivery_id === null) return (unique.push(r), true);
      const key = `${r.instance_id}\u0000${r.delivery_id}`;
      if (seen.has(key)) return false;
      seen.add(key);
      unique.push(r);
      return true;
    });
    const inserted = await bulkInsert(this.db, 'webhook_receipts', unique as unknown as Array<Record<string, unknown>>, {
      onConflict: { columns: ['instance_id', 'delivery_id'] },
      returning: ['instance_id', 'delivery_id'],
    });
    const insertedKeys = new Set(inserted.filter((r) => r.delivery_id !== null).map((r) => `${r.instance_id}\u0000${r.delivery_id}`));
    return rows.map((r, i) => firstOfKey[i] && (r.delivery_id === null || insertedKeys.has(`${r.instance_id}\u0000${r.delivery_id}`)));
  }
}
