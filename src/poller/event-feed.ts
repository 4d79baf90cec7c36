import type { PollerEventsDefinition } from '../connectors/schema.js';
import type { NewEvent } from '../events/record.js';
import { mapWebhookBody, pollerEventsMapping } from '../connectors/event-mapping.js';
import type { Change } from './diff.js';

/**
 * Poller objects that list a provider's event log (Stripe's /v1/events) instead of its records:
 * each new item becomes the event it describes (connectors/event-mapping.ts `pollerEventsMapping`).
 * The new items of an event log as events, oldest first (logs such as Stripe's list newest first). */
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
