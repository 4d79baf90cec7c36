import { JSONPath } from 'jsonpath-plus';
import { DefinitionError } from '../errors.js';

/**
 * Mapping a webhook body to normalized events (DESIGN.md "Webhook mapping values"): `"$…"` is a
 * JSONPath on the item (first match), `"header:<Name>"` a request header, `"=<text>"` a literal, and
 * an array of these means the first that yields a value. Items that map to nothing are returned
 * with the reason, for the ingress log.
 */
export type MappingValue = string | string[];
export type EventTypeMapping = MappingValue | { from: MappingValue; map?: Record<string, string>; default?: string };
export type WebhookEventsMapping = { itemsPath?: string; objectType: MappingValue; objectId: MappingValue; eventType: EventTypeMapping; date?: MappingValue };
export type WebhookEventType = 'CREATED' | 'UPDATED' | 'DELETED' | 'UNKNOWN';
export type MappedEvent = { objectType: string; objectId: string; eventType: WebhookEventType; date: string; raw: unknown };
export type Unmapped = { index: number; reason: string; item: unknown };
type Headers = Record<string, string | string[] | undefined>;

const EVENT_TYPES: WebhookEventType[] = ['CREATED', 'UPDATED', 'DELETED', 'UNKNOWN'];

function headerValue(headers: Headers, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return Array.isArray(v) ? v[0] : v;
  return undefined;
}

function resolveOne(spec: string, item: unknown, headers: Headers): unknown {
  if (spec.startsWith('=')) return spec.slice(1);
  if (spec.startsWith('header:')) return headerValue(headers, spec.slice('header:'.length));
  if (item === null || typeof item !== 'object') return undefined;
  return (JSONPath({ path: spec, json: item as object, wrap: true }) as unknown[])[0];
}

export function resolveValue(spec: MappingValue, item: unknown, headers: Headers): unknown {
  for (const s of Array.isArray(spec) ? spec : [spec]) {
    const v = resolveOne(s, item, headers);
    if (v !== undefined && v !== null && v !== '') return v;
  }
  return undefined;
}

function eventTypeOf(mapping: EventTypeMapping, item: unknown, headers: Headers): WebhookEventType {
  const spec = typeof mapping === 'object' && !Array.isArray(mapping) ? mapping : { from: mapping };
  const raw = resolveValue(spec.from, item, headers);
  const mapped = raw === undefined ? undefined : spec.map?.[String(raw)] ?? String(raw);
  const upper = mapped?.toUpperCase();
  if (upper && (EVENT_TYPES as string[]).includes(upper)) return upper as WebhookEventType;
  const fallback = spec.default?.toUpperCase();
  return fallback && (EVENT_TYPES as string[]).includes(fallback) ? (fallback as WebhookEventType) : 'UNKNOWN';
}

function dateOf(value: unknown, receivedAtMs: number): string {
  if (typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value))) {
    const n = Number(value);
    return new Date(n > 1e12 ? n : n * 1000).toISOString();
  }
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return new Date(ms).toISOString();
  }
  return new Date(receivedAtMs).toISOString();
}

function describe(spec: MappingValue): string {
  return (Array.isArray(spec) ? spec : [spec]).join(', ');
}

export function mapWebhookBody(mapping: WebhookEventsMapping, body: unknown, headers: Headers, receivedAtMs: number): { events: MappedEvent[]; unmapped: Unmapped[] } {
  let items: unknown[] = [body];
  if (mapping.itemsPath && mapping.itemsPath !== '$') {
    const found = body !== null && typeof body === 'object' ? (JSONPath({ path: mapping.itemsPath, json: body as object, wrap: true }) as unknown[]) : [];
    // `$.events` selects the array itself, `$.events[*]` its elements: both work.
    items = found.length === 1 && Array.isArray(found[0]) ? (found[0] as unknown[]) : found;
  }
  const events: MappedEvent[] = [];
  const unmapped: Unmapped[] = [];
  if (items.length === 0) unmapped.push({ index: 0, reason: `no items at ${mapping.itemsPath}`, item: body });
  items.forEach((item, index) => {
    const objectType = resolveValue(mapping.objectType, item, headers);
    const objectId = resolveValue(mapping.objectId, item, headers);
    if (objectType === undefined) return unmapped.push({ index, reason: `no objectType at ${describe(mapping.objectType)}`, item });
    if (objectId === undefined || typeof objectId === 'object') return unmapped.push({ index, reason: `no objectId at ${describe(mapping.objectId)}`, item });
    events.push({
      objectType: String(objectType),
      objectId: String(objectId),
      eventType: eventTypeOf(mapping.eventType, item, headers),
      date: dateOf(mapping.date ? resolveValue(mapping.date, item, headers) : undefined, receivedAtMs),
      raw: item,
    });
  });
  return { events, unmapped };
}

/** Load-time check of a mapping's value forms and JSONPaths. */
export function validateMapping(mapping: WebhookEventsMapping): void {
  const specs: Array<[string, MappingValue | undefined]> = [
    ['objectType', mapping.objectType],
    ['objectId', mapping.objectId],
    ['date', mapping.date],
    ['eventType', typeof mapping.eventType === 'object' && !Array.isArray(mapping.eventType) ? mapping.eventType.from : mapping.eventType],
  ];
  for (const [field, spec] of specs) {
    for (const s of spec === undefined ? [] : Array.isArray(spec) ? spec : [spec]) {
      if (!s.startsWith('$') && !s.startsWith('header:') && !s.startsWith('=')) {
        throw new DefinitionError(`webhook events.${field}: "${s}" must be a JSONPath ("$…"), "header:<Name>" or "=<literal>"`);
      }
      if (s.startsWith('$')) {
        try {
          JSONPath({ path: s, json: {}, wrap: true });
        } catch (err) {
          throw new DefinitionError(`webhook events.${field}: "${s}" is not a valid JSONPath: ${(err as Error).message}`);
        }
      }
    }
  }
}
