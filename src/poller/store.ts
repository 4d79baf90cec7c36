import type { Knex } from 'knex';

/** Poll state as the API reads it: one row per object type of an instance. */
export interface StatusRow {
  object_type: string;
  interval_ms: number;
  next_poll_at: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  watermark: number;
  last_poll_at: number | null;
  last_success_at: number | null;
  last_duration_ms: number | null;
  last_fetched: number | null;
  last_created: number | null;
  last_updated: number | null;
  last_deleted: number | null;
  last_error: string | null;
  last_error_at: number | null;
  last_node: string | null;
  failures: number;
}

export class PollStateStore {
  constructor(private readonly db: Knex) {}

  /** An instance's object types with their last poll, by name. */
  async objectsOf(instanceId: number): Promise<StatusRow[]> {
    return (await this.db('poll_objects').where({ instance_id: instanceId }).orderBy('object_type')) as StatusRow[];
  }
}
