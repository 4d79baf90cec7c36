import { GroupCommit } from '../db/group-commit.js';
import type { NewReceiptRow, ReceiptStore } from './store.js';

/**
 * Stores webhook receipts with group commit: receipts that arrive while a write is in progress go
 * into the next multi-row INSERT, and each request is answered once its row is committed.
 */
export class ReceiptWriter {
  private readonly batches: GroupCommit<NewReceiptRow, boolean>;

  constructor(private readonly store: ReceiptStore) {
    this.batches = new GroupCommit((rows) => this.insert(rows));
  }

  /** Resolves true when stored, false when the (instance, delivery id) was already stored. */
  write(row: NewReceiptRow): Promise<boolean> {
    return this.batches.submit(row);
  }

  private async insert(rows: NewReceiptRow[]): Promise<boolean[]> {
    // A delivery id seen twice in one batch is a duplicate of the first.
    const seen = new Set<string>();
    const unique: NewReceiptRow[] = [];
    const firstOfKey: boolean[] = rows.map((r) => {
      if (r.delivery_id === null) return (unique.push(r), true);
      const key = `${r.instance_id}\u0000${r.delivery_id}`;
      if (seen.has(key)) return false;
      seen.add(key);
      unique.push(r);
      return true;
    });
    const inserted = await this.store.insertNew(unique);
    const insertedKeys = new Set(inserted.filter((r) => r.delivery_id !== null).map((r) => `${r.instance_id}\u0000${r.delivery_id}`));
    return rows.map((r, i) => firstOfKey[i] && (r.delivery_id === null || insertedKeys.has(`${r.instance_id}\u0000${r.delivery_id}`)));
  }
}
