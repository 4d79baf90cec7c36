import { randomBytes } from 'node:crypto';

/**
 * Writing events: the rows of the one door through which polling, webhooks and schedules put
 * changes into the durable store (`EventStore.recordEventGroups`, in the caller's unit of work).
 * Here the events are numbered (per-instance `sequence`) and their notifications (the outbox the
 * dispatcher drains) made, chunked to at most `maxPerNotification` events of one object type each.
 * Nothing is sent here, and nothing written: the SQL is the event store's (`store.ts`).
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

/**
 * The rows of several groups of one instance's events, numbered from `sequence` in the groups'
 * order, with each group's count and notification ids.
 */
export function prepareEventGroups(
  instance: EventInstance,
  groups: Array<{ events: NewEvent[]; options: RecordOptions }>,
  sequence: number,
): { eventRows: Record<string, unknown>[]; notificationRows: Record<string, unknown>[]; results: Array<{ eventCount: number; notificationIds: string[] }> } {
  const eventRows: Record<string, unknown>[] = [];
  const notificationRows: Record<string, unknown>[] = [];
  const results = groups.map((g) => {
    const before = notificationRows.length;
    sequence = prepareRows(instance, g.events, g.options, sequence, eventRows, notificationRows);
    return { eventCount: g.events.length, notificationIds: notificationRows.slice(before).map((n) => n.id as string) };
  });
  return { eventRows, notificationRows, results };
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

/** A notification to queue, with a payload of the caller's shape (scheduled events). */
export interface QueuedNotification {
  id?: string;
  /** null with `connectSessionId`: a notification bound to a connect session (no instance exists). */
  instanceId: number | null;
  connectSessionId?: number;
  source: EventSource;
  objectType: string | null;
  payload: Record<string, unknown>;
  eventCount: number;
  now: number;
}

/** The row of a queued notification. */
export function notificationRow(n: QueuedNotification): Record<string, unknown> {
  const id = n.id ?? newNotificationId();
  return {
    id,
    instance_id: n.instanceId,
    ...(n.connectSessionId !== undefined ? { connect_session_id: n.connectSessionId } : {}),
    object_type: n.objectType,
    source: n.source,
    status: 'pending',
    payload: JSON.stringify({ id, ...n.payload }),
    event_count: n.eventCount,
    attempt_count: 0,
    next_attempt_at: n.now,
    created_at: n.now,
    updated_at: n.now,
  };
}
