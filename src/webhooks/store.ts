import type { Knex } from 'knex';

/** Webhook receipts as the API reads them (the ingress log); writing them is receipt-writer.ts. */
export interface ReceiptRow {
  id: number;
  received_at: number;
  content_type: string | null;
  headers: string;
  body: string | null;
  delivery_id: string | null;
  verified: number | boolean;
  status: string;
  reason: string | null;
  events_count: number;
  unmapped: string | null;
  attempts: number;
  processed_at: number | null;
}

const LIST_COLUMNS = ['id', 'received_at', 'content_type', 'headers', 'delivery_id', 'verified', 'status', 'reason', 'events_count', 'attempts', 'processed_at'];

export class ReceiptStore {
  constructor(private readonly db: Knex) {}

  /** An instance's receipts newest first, without bodies (a page of large bodies would be huge). */
  async list(instanceId: number, before: number | undefined, limit: number): Promise<Omit<ReceiptRow, 'body' | 'unmapped'>[]> {
    const q = this.db('webhook_receipts').where({ instance_id: instanceId }).orderBy('id', 'desc').limit(limit).select(LIST_COLUMNS);
    if (before) q.where('id', '<', before);
    return (await q) as ReceiptRow[];
  }

  async get(instanceId: number, id: number): Promise<ReceiptRow | undefined> {
    return (await this.db('webhook_receipts').where({ instance_id: instanceId, id }).first()) as ReceiptRow | undefined;
  }
}
