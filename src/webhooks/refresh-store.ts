import type { Knex } from 'knex';
import { claimDue } from '../db/lease.js';

/** The store of provider webhooks that lapse unless refreshed: the only code that writes SQL for them. */
export interface RefreshRow {
  id: number;
  instance_id: number;
  registration: string;
  webhook_id: string;
  expires_at: number;
  next_attempt_at: number;
  attempts: number;
  last_error: string | null;
  refreshed_at: number | null;
  created_at: number;
}

export class WebhookRefreshStore {
  constructor(private readonly db: Knex) {}

  /** Records (or replaces) a registration's webhook and when it lapses and is next refreshed. */
  async track(o: { instanceId: number; registration: string; webhookId: string; expiresAt: number; refreshAt: number; now: number }): Promise<void> {
    const row = {
      webhook_id: o.webhookId,
      expires_at: o.expiresAt,
      next_attempt_at: o.refreshAt,
      attempts: 0,
      last_error: null,
      lease_owner: null,
      lease_expires_at: null,
    };
    const updated = await this.db('webhook_refreshes').where({ instance_id: o.instanceId, registration: o.registration }).update(row);
    if (updated === 0)
      await this.db('webhook_refreshes').insert({ ...row, instance_id: o.instanceId, registration: o.registration, refreshed_at: null, created_at: o.now });
  }

  /** Claims up to ten due refreshes with a five-minute lease. */
  claimDue(now: number, owner: string): Promise<RefreshRow[]> {
    return claimDue<RefreshRow>(this.db, { table: 'webhook_refreshes', dueColumn: 'next_attempt_at', now, owner, leaseMs: 300_000, limit: 10 });
  }

  /** Refreshed (or registered anew): the new id and dates; the lease is given back. */
  async refreshed(id: number, o: { webhookId: string; expiresAt: number; refreshAt: number; now: number }): Promise<void> {
    await this.db('webhook_refreshes').where({ id }).update({
      webhook_id: o.webhookId,
      expires_at: o.expiresAt,
      next_attempt_at: o.refreshAt,
      refreshed_at: o.now,
      attempts: 0,
      last_error: null,
      lease_owner: null,
      lease_expires_at: null,
    });
  }

  /** Another attempt later; the lease is given back. */
  async retryLater(id: number, o: { attempts: number; lastError: string; nextAttemptAt: number }): Promise<void> {
    await this.db('webhook_refreshes')
      .where({ id })
      .update({ attempts: o.attempts, last_error: o.lastError, next_attempt_at: o.nextAttemptAt, lease_owner: null, lease_expires_at: null });
  }

  /**
   * A lifecycle notification: the registration (this webhook id, else all of the instance's) is
   * refreshed now, or — `lapsed` — taken as lapsed, so it is registered anew.
   */
  async dueNow(instanceId: number, webhookId: string | undefined, o: { lapsed: boolean; now: number }): Promise<number> {
    const q = this.db('webhook_refreshes').where({ instance_id: instanceId });
    if (webhookId !== undefined) q.where({ webhook_id: webhookId });
    return q.update(o.lapsed ? { next_attempt_at: o.now, expires_at: o.now } : { next_attempt_at: o.now });
  }

  /** The instance's tracked registrations (its status). */
  listOf(instanceId: number): Promise<RefreshRow[]> {
    return this.db('webhook_refreshes').where({ instance_id: instanceId }).orderBy('registration') as Promise<RefreshRow[]>;
  }

  async removeInstance(instanceId: number): Promise<void> {
    await this.db('webhook_refreshes').where({ instance_id: instanceId }).delete();
  }
}
