import type { Knex } from 'knex';
import { deleteInBatches } from '../db/bulk.js';

/** The request-template invocation log: one row per invocation, listed newest first. */
export interface RequestLogRow {
  id: number;
  template: string;
  method: string;
  url: string;
  status: number | null;
  error_source: string | null;
  attempts: number;
  duration_ms: number;
  error: string | null;
  at: number;
}

export class RequestLogStore {
  constructor(private readonly db: Knex) {}

  /** Retention: entries logged before `before`. */
  prune(before: number): Promise<number> {
    return deleteInBatches(this.db, 'request_log', (q) => q.where('at', '<', before));
  }

  async add(instanceId: number, row: Omit<RequestLogRow, 'id'>): Promise<void> {
    await this.db('request_log').insert({ instance_id: instanceId, ...row });
  }

  async list(instanceId: number, before: number | undefined, limit: number): Promise<RequestLogRow[]> {
    const q = this.db('request_log').where({ instance_id: instanceId }).orderBy('id', 'desc').limit(limit);
    if (before) q.where('id', '<', before);
    return (await q) as RequestLogRow[];
  }
}
