import type { PollerEventsDefinition } from '../connectors/schema.js';
import type { NewEvent } from '../events/record.js';
import { mapWebhookBody, type WebhookEventsMapping } from '../connectors/event-mapping.js';
import type { Change } from './diff.js';

/**
 * Poller objects that list a provider's event log (Stripe's /v1/events) instead of its records.
 * Each listed item is an event, keyed by its own id: the diff raises a new item once, and here it
 * becomes the event it describes — the object's id, the type the item names, and the object
 * itself as the record — using the same mapping values as webhooks.
 */
export function pollerEventsMapping(objectType: string, events: PollerEventsDefinition): WebhookEventsMapping {
  return { objectType: `=${objectType}`, objectId: events.objectId, eventType: events.eventType, date: events.date, recordPath: events.recordPath };
}

/** The new items of an event log as events, oldest first (logs such as Stripe's list newest first). */
export function eventsFromFeed(objectType: string, events: PollerEventsDefinition, changes: Change[], fallbackMs: number): NewEvent[] {
  const mapping = pollerEventsMapping(objectType, events);
  const out: Array<NewEvent & { at: number }> = [];
  for (const change of changes) {
    const [mapped] = mapWebhookBody(mapping, change.record, {}, change.date ?? fallbackMs).events;
    if (!mapped) continue; // an item without the object's id describes nothing this object type holds
    out.push({
      eventType: mapped.eventType,
      objectType,
      objectId: mapped.objectId,
      date: mapped.date,
      raw: mapped.record ?? change.record,
      at: Date.parse(mapped.date),
    });
  }
  // Stable: items of the same second keep the provider's order, reversed with the rest.
  return out
    .reverse()
    .sort((a, b) => a.at - b.at)
    .map(({ at: _at, ...event }) => event);
}
