import type { Knex } from 'knex';
import { bulkInsert } from '../db/bulk.js';
import { GroupCommit } from '../db/group-commit.js';

/**
 * Stores webhook receipts with group commit: receipts that arrive while a write is in progress go
 * into the next multi-row INSERT, and each request is answered once its row is committed.
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

export class ReceiptWriter {
  private readonly batches: GroupCommit<ReceiptRow, boolean>;

  constructor(private readonly db: Knex) {
    this.batches = new GroupCommit((rows) => this.insert(rows));
  }

  /** Resolves true when stored, false when the (instance, delivery id) was already stored. */
  write(row: ReceiptRow): Promise<boolean> {
    return this.batches.submit(row);
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
