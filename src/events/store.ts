import type { Knex } from 'knex';
import { inTransaction } from '../db/index.js';
import { bulkInsert, bulkUpdate, deleteInBatches } from '../db/bulk.js';
import { InstanceGoneError } from '../db/instance-guard.js';
import { claimDue, releaseLeases, renewLeases } from '../db/lease.js';
import { coalesceClaimed, type CoalesceOptions } from './coalesce.js';
import { notificationRow, prepareEventGroups, type EventInstance, type NewEvent, type QueuedNotification, type RecordOptions } from './record.js';

/**
 * The store of events, notifications (the outbox) and their delivery attempts: the only code that
 * writes SQL for them. Reads and operator changes for the API (events, notification inspection,
 * retry and replay, status counts); the dispatcher's claims, bodies and outcomes; and, in a
 * caller's transaction, the inserts `record.ts` prepares.
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

/** A notification as the dispatcher claims it. */
export interface NotificationRow {
  id: string;
  /** null for a notification bound to a connect session instead (a first connect that failed). */
  instance_id: number | null;
  connect_session_id: number | null;
  object_type: string | null;
  source: string;
  status: string;
  payload: string;
  attempt_count: number;
  event_count: number;
  /** Templated mode: requests (events) the receiver already accepted; a retry sends the rest. */
  requests_done: number;
  next_attempt_at: number;
  created_at: number;
}

/** What one delivery attempt changes: the attempt's row (none when nothing was sent) and the notification's new columns. */
export interface DeliveryOutcome {
  id: string;
  attempt?: Record<string, unknown>;
  patch: Record<string, unknown>;
}

export class EventStore {
  constructor(private readonly db: Knex) {}

  /** Gives back claims of `owner` (the dispatcher's, when it stops or does not send them); due again at once. */
  releaseNotificationLeases(ids: Array<number | string>, owner: string): Promise<number> {
    return releaseLeases(this.db, 'notifications', ids, owner);
  }

  /**
   * Claims up to `limit` due pending notifications of instances whose callbacks are on, with a
   * lease; oldest first, so an instance's notifications go out in the order they were made.
   * Instances whose callback origin is in `skipOrigins` are left out (the dispatcher is not sending
   * to those origins right now).
   */
  async claimDueNotifications(o: { now: number; owner: string; leaseMs: number; limit: number; skipOrigins?: string[] }): Promise<NotificationRow[]> {
    const skip = o.skipOrigins ?? [];
    const instances = this.db('instances').select('id').where({ events_enabled: true, callback_disabled: false });
    // NOT IN is never true for a NULL origin: instances without a callback URL are kept explicitly.
    if (skip.length > 0) instances.where((q) => q.whereNull('callback_origin').orWhereNotIn('callback_origin', skip));
    const rows = await claimDue<NotificationRow>(this.db, {
      table: 'notifications',
      dueColumn: 'next_attempt_at',
      now: o.now,
      owner: o.owner,
      leaseMs: o.leaseMs,
      limit: o.limit,
      // Session-bound notifications (no instance) go to their session's preset callback.
      where: (q) => q.where('status', 'pending').where((w) => w.whereIn('instance_id', instances).orWhereNotNull('connect_session_id')),
      orderBy: [{ column: 'next_attempt_at' }, { column: 'created_at' }],
    });
    return rows.sort((a, b) => a.created_at - b.created_at);
  }

  /** Merges claimed polling notifications of one instance and object type that were never attempted (coalesce.ts). */
  coalesceNotifications(rows: NotificationRow[], o: CoalesceOptions): Promise<NotificationRow[]> {
    return coalesceClaimed(this.db, rows, o);
  }

  /** Extends this node's lease on a notification (a templated delivery of many requests needs longer); false when the lease is no longer its own. */
  async renewNotificationLease(id: string, owner: string, expiresAt: number): Promise<boolean> {
    return (await renewLeases(this.db, 'notifications', [id], owner, expiresAt)) > 0;
  }

  /**
   * Records attempts and outcomes in one transaction. The lease guard: an outcome of a lease that
   * expired and was retaken is not written. Joins the unit of work this store is bound to, if any.
   */
  async recordOutcomes(outcomes: DeliveryOutcome[], owner: string): Promise<void> {
    await inTransaction(this.db, async (trx) => {
      await bulkInsert(
        trx,
        'attempts',
        outcomes.flatMap((o) => (o.attempt ? [o.attempt] : [])),
      );
      await bulkUpdate(
        trx,
        'notifications',
        'id',
        outcomes.map((o) => ({ ...o.patch, id: o.id })),
        { lease_owner: owner },
      );
    });
  }

  /**
   * The one door for events: records an instance's events and their notifications (rows made by
   * `record.ts`) in the unit of work this store is bound to: one sequence reservation and one
   * insert of all their notifications and events, however many groups (the webhook processor
   * records a batch of receipts, each with its own request fields, this way).
   */
  async recordEventGroups(
    instance: EventInstance,
    groups: Array<{ events: NewEvent[]; options: RecordOptions }>,
  ): Promise<Array<{ eventCount: number; notificationIds: string[] }>> {
    const total = groups.reduce((n, g) => n + g.events.length, 0);
    if (total === 0) return groups.map(() => ({ eventCount: 0, notificationIds: [] }));
    const { eventRows, notificationRows, results } = prepareEventGroups(instance, groups, await reserveSequence(this.db, instance.id, total));
    // Notifications first: events reference them.
    await bulkInsert(this.db, 'notifications', notificationRows);
    await bulkInsert(this.db, 'events', eventRows);
    return results;
  }

  async recordEvents(instance: EventInstance, events: NewEvent[], o: RecordOptions): Promise<{ eventCount: number; notificationIds: string[] }> {
    return (await this.recordEventGroups(instance, [{ events, options: o }]))[0];
  }

  /** Queues one notification of the caller's shape (scheduled events), in the unit of work this store is bound to. */
  async enqueueNotification(n: QueuedNotification): Promise<string> {
    const row = notificationRow(n);
    await this.db('notifications').insert(row);
    return row.id as string;
  }

  /** Every event of a deleted instance (its notifications go with the instance row: a foreign key). */
  async deleteOfInstance(instanceId: number): Promise<void> {
    await this.db('events').where({ instance_id: instanceId }).delete();
  }

  /** Retention: events made before `before` whose notification is delivered (or that have none). */
  async pruneEvents(before: number): Promise<number> {
    const db = this.db;
    return deleteInBatches(db, 'events', (q) =>
      q
        .where('created_at', '<', before)
        .where((w) => w.whereNull('notification_id').orWhereIn('notification_id', db('notifications').select('id').where('status', 'delivered'))),
    );
  }

  /** Retention: notifications delivered before `cutoff` (their attempts go with them); undelivered ones never are. */
  async pruneDelivered(cutoff: number): Promise<number> {
    return this.db.transaction(async (trx) => {
      const expired = trx('notifications').select('id').where('status', 'delivered').where('delivered_at', '<', cutoff);
      // Their events stay, without a notification (what ON DELETE SET NULL did; migration 012).
      await trx('events').whereIn('notification_id', expired).update({ notification_id: null });
      const deleted: number = await trx('notifications').whereIn('id', expired).delete();
      return deleted;
    });
  }

  /**
   * Notification bodies as sent: polling and webhook bodies get `raw` back from their events (the
   * records or items, keyed by object type), in sequence order. Webhook notifications stored before
   * that kept the provider's body in their payload, and are sent as stored.
   */
  async notificationBodies(rows: NotificationRow[]): Promise<Map<string, Record<string, unknown>>> {
    const bodies = new Map<string, Record<string, unknown>>();
    const needRaw: NotificationRow[] = [];
    for (const row of rows) {
      const payload = JSON.parse(row.payload) as Record<string, unknown>;
      bodies.set(row.id, payload);
      if ((row.source === 'polling' || row.source === 'webhook') && payload.raw === null && row.object_type) needRaw.push(row);
    }
    // One read for the whole batch.
    for (let i = 0; i < needRaw.length; i += 500) {
      const part = needRaw.slice(i, i + 500);
      const records = (await this.db('events')
        .whereIn(
          'notification_id',
          part.map((r) => r.id),
        )
        .orderBy('sequence')
        .select('notification_id', 'raw')) as Array<{ notification_id: string; raw: string | null }>;
      const byNotification = new Map<string, unknown[]>();
      for (const r of records) {
        const list = byNotification.get(r.notification_id) ?? [];
        list.push(r.raw ? JSON.parse(r.raw) : null);
        byNotification.set(r.notification_id, list);
      }
      for (const row of part) bodies.get(row.id)!.raw = { [row.object_type!]: byNotification.get(row.id) ?? [] };
    }
    return bodies;
  }

  async notificationBody(row: NotificationRow): Promise<Record<string, unknown>> {
    return (await this.notificationBodies([row])).get(row.id)!;
  }

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
    const q = this.db('notifications')
      .where({ instance_id: instanceId })
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(f.limit);
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
    return this.db('notifications')
      .where({ instance_id: instanceId })
      .where('created_at', '>=', since)
      .whereIn('status', ['delivered', 'dead'])
      .update(this.requeued(now));
  }

  /**
   * Back to pending, due now, attempt count kept. A delivered notification is sent in full again;
   * a failed one in templated mode keeps the requests its receiver already accepted.
   */
  private requeued(now: number) {
    return {
      status: 'pending',
      next_attempt_at: now,
      updated_at: now,
      requests_done: this.db.raw("case when status = 'delivered' then 0 else requests_done end"),
    };
  }

  /** How many of an instance's notifications wait to be sent, and how many are dead. */
  async notificationCounts(instanceId: number): Promise<{ pending: number; dead: number }> {
    const pending = await this.db('notifications')
      .where({ instance_id: instanceId })
      .whereIn('status', ['pending', 'delivering'])
      .count<{ n: number }[]>({ n: '*' });
    const dead = await this.db('notifications').where({ instance_id: instanceId, status: 'dead' }).count<{ n: number }[]>({ n: '*' });
    return { pending: Number(pending[0].n), dead: Number(dead[0].n) };
  }

  /**
   * How many of an instance's events were recorded (`events`) or notifications delivered
   * (`deliveries`) in each `bucketMs` since `from`: bucket number → count, empty buckets left out.
   */
  async countsPerBucket(instanceId: number, what: 'events' | 'deliveries', from: number, bucketMs: number): Promise<Map<number, number>> {
    const [table, column] = what === 'events' ? ['events', 'created_at'] : ['notifications', 'delivered_at'];
    const rows = (await this.db(table)
      .where({ instance_id: instanceId })
      .where(column, '>=', from)
      .select(this.db.raw(`(${column} - ?) / ? as bucket`, [from, bucketMs]))
      .count('* as n')
      .groupBy('bucket')) as unknown as Array<{ bucket: number | string; n: number | string }>;
    return new Map(rows.map((r) => [Math.floor(Number(r.bucket)), Number(r.n)]));
  }
}

/** Reserves `count` event sequence numbers of an instance, in the caller's transaction; returns the first. */
async function reserveSequence(trx: Knex, instanceId: number, count: number): Promise<number> {
  const [row] = (await trx('instances').where({ id: instanceId }).increment('next_sequence', count).returning('next_sequence')) as Array<{
    next_sequence: number;
  }>;
  // The update holds the instance row to the commit: the events' stand-in for a foreign key (migration 012).
  if (!row) throw new InstanceGoneError(instanceId);
  return Number(row.next_sequence) - count;
}
