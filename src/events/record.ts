import { randomBytes } from 'node:crypto';
import type { Db } from '../db/index.js';
import { insertEventsAndNotifications, insertNotification, reserveSequence } from './store.js';

/**
 * Writing events: the one door through which polling, webhooks and schedules put changes into
 * the durable store. In the caller's transaction it numbers the events (per-instance `sequence`),
 * stores them, and creates their notifications (the outbox the dispatcher drains), chunked to at
 * most `maxPerNotification` events of one object type each. Nothing is sent here; the SQL is the
 * event store's (`store.ts`).
 */
export type EventType = 'CREATED' | 'UPDATED' | 'DELETED' | 'UNKNOWN';
/** `connect`: an account connected, reconnected or failed to through the connect page (src/connect). */
export type EventSource = 'polling' | 'webhook' | 'schedule' | 'connect';

export interface NewEvent {
  eventType: EventType;
  objectType: string;
  objectId: string;
  /** ISO 8601. */
  date: string;
  raw: unknown;
}

export interface EventInstance {
  id: number;
  name: string;
  elementKey: string;
}

export interface RecordOptions {
  source: EventSource;
  now: number;
  /** Create notifications (false when the instance has callbacks switched off). */
  notify: boolean;
  maxPerNotification: number;
  /**
   * For webhooks: the receipt that raised the events (its id is in the payload: the provider's
   * whole body is kept there, once), when the request came (epoch ms) and its headers, secrets
   * redacted (Freshworks' fields).
   */
  received?: { receiptId: number; at: number; headers: Record<string, string> };
}

export interface NotificationPayload {
  id: string;
  instanceId: number;
  instanceName: string;
  elementKey: string;
  eventDate: string;
  events: Array<{ eventType: EventType; objectType: string; objectId: string; elementKey: string; date: string; sequence: number }>;
  raw: unknown;
  /** Webhook mode: the receipt whose body raised the events, the epoch milliseconds its request came, and its headers (secrets redacted). */
  receiptId?: number;
  timestamp?: number;
  headers?: Record<string, string>;
}

/**
 * `ntf_` and 16 bytes: the time in milliseconds (6), then 10 random. Ids made close in time sort
 * close together, so the notifications key and events' notification_id index grow at one end
 * instead of taking each insert at a random place (a first poll makes thousands at once).
 */
export const newNotificationId = (): string => {
  const id = randomBytes(16);
  id.writeUIntBE(Date.now(), 0, 6);
  return `ntf_${id.toString('base64url')}`;
};

export async function recordEvents(
  trx: Db,
  instance: EventInstance,
  events: NewEvent[],
  o: RecordOptions,
): Promise<{ eventCount: number; notificationIds: string[] }> {
  return (await recordEventGroups(trx, instance, [{ events, options: o }]))[0];
}

/**
 * Several `recordEvents` calls of one instance at the cost of one: one sequence reservation and
 * one insert of all their notifications and events (the webhook processor records a batch of
 * receipts, each with its own request fields, this way). Sequence numbers follow the groups' order.
 */
export async function recordEventGroups(
  trx: Db,
  instance: EventInstance,
  groups: Array<{ events: NewEvent[]; options: RecordOptions }>,
): Promise<Array<{ eventCount: number; notificationIds: string[] }>> {
  const total = groups.reduce((n, g) => n + g.events.length, 0);
  if (total === 0) return groups.map(() => ({ eventCount: 0, notificationIds: [] }));
  let sequence = await reserveSequence(trx, instance.id, total);
  const eventRows: Record<string, unknown>[] = [];
  const notificationRows: Record<string, unknown>[] = [];
  const results = groups.map((g) => {
    const before = notificationRows.length;
    sequence = prepareRows(instance, g.events, g.options, sequence, eventRows, notificationRows);
    return { eventCount: g.events.length, notificationIds: notificationRows.slice(before).map((n) => n.id as string) };
  });
  await insertEventsAndNotifications(trx, notificationRows, eventRows);
  return results;
}

/** Appends the rows of one group's events and notifications, numbered from `sequence`; returns the next number. */
function prepareRows(
  instance: EventInstance,
  events: NewEvent[],
  o: RecordOptions,
  sequence: number,
  eventRows: Record<string, unknown>[],
  notificationRows: Record<string, unknown>[],
): number {
  const eventDate = new Date(o.now).toISOString();

  for (const [objectType, ofType] of groupByObjectType(events)) {
    for (let i = 0; i < ofType.length; i += o.maxPerNotification) {
      const chunk = ofType.slice(i, i + o.maxPerNotification);
      const notificationId = o.notify ? newNotificationId() : null;
      const payloadEvents: NotificationPayload['events'] = [];
      for (const e of chunk) {
        const seq = sequence++;
        payloadEvents.push({ eventType: e.eventType, objectType, objectId: e.objectId, elementKey: instance.elementKey, date: e.date, sequence: seq });
        eventRows.push({
          instance_id: instance.id,
          sequence: seq,
          event_type: e.eventType,
          object_type: objectType,
          object_id: e.objectId,
          element_key: instance.elementKey,
          date: e.date,
          raw: JSON.stringify(e.raw ?? null),
          source: o.source,
          notification_id: notificationId,
          created_at: o.now,
        });
      }
      if (!notificationId) continue;
      const payload: NotificationPayload = {
        id: notificationId,
        instanceId: instance.id,
        instanceName: instance.name,
        elementKey: instance.elementKey,
        eventDate,
        events: payloadEvents,
        // The events' own records (polling) or items (webhooks), stored once with the events and
        // put back into the body when it is sent: a copy per notification of a large provider body
        // once took gigabytes. The provider's whole body stays on its receipt.
        raw: null,
        ...(o.received ? { receiptId: o.received.receiptId, timestamp: o.received.at, headers: o.received.headers } : {}),
      };
      notificationRows.push({
        id: notificationId,
        instance_id: instance.id,
        object_type: objectType,
        source: o.source,
        status: 'pending',
        payload: JSON.stringify(payload),
        event_count: chunk.length,
        attempt_count: 0,
        next_attempt_at: o.now,
        created_at: o.now,
        updated_at: o.now,
      });
    }
  }
  return sequence;
}

function groupByObjectType(events: NewEvent[]): Map<string, NewEvent[]> {
  const groups = new Map<string, NewEvent[]>();
  for (const e of events) {
    const list = groups.get(e.objectType);
    if (list) list.push(e);
    else groups.set(e.objectType, [e]);
  }
  return groups;
}

/** Queues one notification with a payload of the caller's shape (scheduled events use this). */
export async function enqueueNotification(
  trx: Db,
  n: { id?: string; instanceId: number; source: EventSource; objectType: string | null; payload: Record<string, unknown>; eventCount: number; now: number },
): Promise<string> {
  const id = n.id ?? newNotificationId();
  await insertNotification(trx, {
    id,
    instance_id: n.instanceId,
    object_type: n.objectType,
    source: n.source,
    status: 'pending',
    payload: JSON.stringify({ id, ...n.payload }),
    event_count: n.eventCount,
    attempt_count: 0,
    next_attempt_at: n.now,
    created_at: n.now,
    updated_at: n.now,
  });
  return id;
}
