import type { PollerEventsDefinition } from '../connectors/schema.js';
import type { NewEvent } from '../events/record.js';
import { mapWebhookBody, pollerEventsMapping } from '../connectors/event-mapping.js';
import type { Change } from './diff.js';

/**
 * Poller objects that list a provider's event log (Stripe's /v1/events) instead of its records:
 * each new item becomes the event it describes (connectors/event-mapping.ts `pollerEventsMapping`).
 * The new items of an event log as events, oldest first: a log listed newest first (Stripe's) is
 * read backwards; one read from a cursor (with `delta`) lists oldest first. */
export function eventsFromFeed(
  objectType: string,
  events: PollerEventsDefinition,
  changes: Change[],
  fallbackMs: number,
  order: 'newest-first' | 'oldest-first',
): NewEvent[] {
  const mapping = pollerEventsMapping(objectType, events);
  const out: Array<NewEvent & { at: number }> = [];
  for (const change of order === 'newest-first' ? [...changes].reverse() : changes) {
    // An item without the object's id describes nothing this object type holds; one with
    // `itemsPath` may name several changes (a transaction's created, changed and deleted records),
    // which keep their order.
    for (const mapped of mapWebhookBody(mapping, change.record, {}, change.date ?? fallbackMs).events) {
      out.push({
        eventType: mapped.eventType,
        objectType,
        objectId: mapped.objectId,
        date: mapped.date,
        raw: mapped.record ?? mapped.raw,
        at: Date.parse(mapped.date),
      });
    }
  }
  // Stable: events of the same time keep the log's order.
  return out.sort((a, b) => a.at - b.at).map(({ at: _at, ...event }) => event);
}
