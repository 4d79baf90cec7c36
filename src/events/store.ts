import type { Knex } from 'knex';

/**
 * Reads and operator changes of events and their notifications for the API (events, notification
 * inspection, retry and replay, status counts). Writing new events and notifications is
 * `record.ts`; the dispatcher's claims and outcomes are its own.
 */
export interface EventRow {
  id: number;
  instance_id: number;
  sequence: number;
  event_type: string;
  object_type: string;
  object_id: string;
  element_key: string;
  date: string;
  raw: string | null;
  source: string;
  notification_id: string | null;
  notification_status?: string | null;
  created_at: number;
}

export interface EventFilter {
  /** Only events with a smaller id (the page token). */
  before?: number;
  limit: number;
  objectType?: string;
  eventType?: string;
}

export class EventStore {
  constructor(private readonly db: Knex) {}

  private selectEvents() {
    return this.db('events')
      .leftJoin('notifications', 'notifications.id', 'events.notification_id')
      .select('events.*', 'notifications.status as notification_status');
  }

  /** An instance's events, newest first. */
  async list(instanceId: number, f: EventFilter): Promise<EventRow[]> {
    const q = this.selectEvents().where('events.instance_id', instanceId).orderBy('events.id', 'desc').limit(f.limit);
    if (f.before) q.where('events.id', '<', f.before);
    if (f.objectType !== undefined) q.where('events.object_type', f.objectType);
    if (f.eventType !== undefined) q.where('events.event_type', f.eventType);
    return (await q) as EventRow[];
  }

  async get(id: number): Promise<EventRow | undefined> {
    return (await this.selectEvents().where('events.id', id).first()) as EventRow | undefined;
  }

  async notification<T>(id: string): Promise<T | undefined> {
    return (await this.db('notifications').where({ id }).first()) as T | undefined;
  }

  /** An instance's notifications, newest first, optionally of one status. */
  async notificationsOf<T>(instanceId: number, f: { status?: string; limit: number }): Promise<T[]> {
    const q = this.db('notifications').where({ instance_id: instanceId }).orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(f.limit);
    if (f.status !== undefined) q.where({ status: f.status });
    return (await q) as T[];
  }

  /** A notification's attempts, oldest first. */
  async attemptsOf(notificationId: string): Promise<Array<Record<string, unknown>>> {
    return (await this.db('attempts').where({ notification_id: notificationId }).orderBy('id')) as Array<Record<string, unknown>>;
  }

  /** Retry: one notification back to pending, due now. */
  requeue(id: string, now: number): Promise<number> {
    return this.db('notifications').where({ id }).update(this.requeued(now));
  }

  /** Replay: an instance's delivered and dead notifications made since `since`; how many. */
  replaySince(instanceId: number, since: number, now: number): Promise<number> {
    return this.db('notifications').where({ instance_id: instanceId }).where('created_at', '>=', since).whereIn('status', ['delivered', 'dead']).update(this.requeued(now));
  }

  /**
   * Back to pending, due now, attempt count kept. A delivered notification is sent in full again;
   * a failed one in templated mode keeps the requests its receiver already accepted.
   */
  private requeued(now: number) {
    return {
      status: 'pending', next_attempt_at: now, updated_at: now,
      requests_done: this.db.raw("case when status = 'delivered' then 0 else requests_done end"),
    };
  }

  /** How many of an instance's notifications wait to be sent, and how many are dead. */
  async notificationCounts(instanceId: number): Promise<{ pending: number; dead: number }> {
    const pending = await this.db('notifications').where({ instance_id: instanceId }).whereIn('status', ['pending', 'delivering']).count<{ n: number }[]>({ n: '*' });
    const dead = await this.db('notifications').where({ instance_id: instanceId, status: 'dead' }).count<{ n: number }[]>({ n: '*' });
    return { pending: Number(pending[0].n), dead: Number(dead[0].n) };
  }
}
