import { DefinitionError } from '../errors.js';
import { compileJsonPath, type CompiledJsonPath } from '../lib/json-path.js';

/**
 * Mapping a parsed webhook body to normalized events (DESIGN.md "Webhook mapping values").
 *
 * A mapping value is `"$…"` (a JSONPath on the item, first match), `"header:<Name>"` (a request
 * header, any case), `"=<text>"` (a literal), or an array of these: the first that yields a value.
 * A value is a non-empty string, a finite number or a boolean; null, "", objects and arrays count
 * as nothing, so the next alternative is tried.
 *
 * `itemsPath` (default `"$"`) selects the items. A path that names a node (`$`, `$.events`)
 * iterates the node's elements when it is an array and is one item otherwise; a path whose last
 * step selects elements (`[*]`, a filter, a slice, a union) gives those elements as items. So
 * `$.events` and `$.events[*]` are the same, and a body that is a JSON array is a list of items.
 *
 * Event types are Cloud Elements' four. The raw value is looked up in `map` (exactly, then
 * ignoring case); failing that it may itself name one of the four in any case; failing that
 * `default`, else UNKNOWN. Dates: epoch seconds or milliseconds (numbers or digit strings, told
 * apart by size) or anything `Date.parse` reads (ISO 8601, RFC 2822); else the receive time.
 *
 * Mappings are compiled once (JSONPaths checked, plain paths such as `$.data.id` turned into
 * direct property walks) and cached per mapping object, which is treated as immutable.
 */
export type MappingValue = string | string[];
export type EventTypeMapping = MappingValue | { from: MappingValue; map?: Record<string, string>; default?: string };
export type WebhookEventsMapping = {
  itemsPath?: string;
  objectType: MappingValue;
  objectId: MappingValue;
  eventType: EventTypeMapping;
  date?: MappingValue;
  /** JSONPath to the record inside an item (used by the processor); only checked here. */
  recordPath?: string;
};
export type WebhookEventType = 'CREATED' | 'UPDATED' | 'DELETED' | 'UNKNOWN';
export type MappedEvent = { objectType: string; objectId: string; eventType: WebhookEventType; date: string; raw: unknown };
/** An item that produced no event; `index` is the item's position (0 when no item was found). */
export type Unmapped = { index: number; reason: string; item: unknown };
type Headers = Record<string, string | string[] | undefined>;

type Scalar = string | number | boolean;
type HeaderLookup = (lowerCaseName: string) => string | undefined;

const EVENT_TYPES: readonly WebhookEventType[] = ['CREATED', 'UPDATED', 'DELETED', 'UNKNOWN'];
const MAX_DATE_MS = 8.64e15; // the largest time a Date can hold

// ---------------------------------------------------------------------------------------------
// Mapping values

interface CompiledValue {
  /** The spec as written, for reasons: "$.data.id, $.id". */
  readonly describe: string;
  resolve(item: unknown, header: HeaderLookup): Scalar | undefined;
}

const VALUE_FORMS = 'a JSONPath ("$…"), "header:<Name>" or "=<text>"';
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

function isScalar(value: unknown): value is Scalar {
  return (typeof value === 'string' && value !== '') || (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean';
}

function compileCandidate(spec: unknown, field: string): (item: unknown, header: HeaderLookup) => unknown {
  if (typeof spec !== 'string' || spec === '') throw new DefinitionError(`${field}: must be ${VALUE_FORMS}`);
  if (spec.startsWith('=')) {
    const text = spec.slice(1);
    if (!text) throw new DefinitionError(`${field}: "=" must be followed by the literal text`);
    return () => text;
  }
  if (spec.startsWith('header:')) {
    const name = spec.slice('header:'.length).trim().toLowerCase();
    if (!HEADER_NAME.test(name)) throw new DefinitionError(`${field}: "${spec}" must name a header after "header:"`);
    return (_item, header) => header(name);
  }
  if (spec.startsWith('$')) {
    const path = compileJsonPath(spec, field);
    return (item) => path.first(item);
  }
  throw new DefinitionError(`${field}: "${spec}" must be ${VALUE_FORMS}`);
}

function compileValue(spec: MappingValue | undefined, field: string): CompiledValue {
  if (spec === undefined) throw new DefinitionError(`${field}: is required`);
  if (Array.isArray(spec) && spec.length === 0) throw new DefinitionError(`${field}: an empty list yields nothing; give at least one value`);
  const specs: unknown[] = Array.isArray(spec) ? spec : [spec];
  const readers = specs.map((s, i) => compileCandidate(s, Array.isArray(spec) ? `${field}[${i}]` : field));
  return {
    describe: specs.join(', '),
    resolve(item, header) {
      for (const read of readers) {
        const value = read(item, header);
        if (isScalar(value)) return value;
      }
      return undefined;
    },
  };
}

function asEventType(value: unknown): WebhookEventType | undefined {
  if (typeof value !== 'string') return undefined;
  const upper = value.toUpperCase();
  return (EVENT_TYPES as readonly string[]).includes(upper) ? (upper as WebhookEventType) : undefined;
}

function compileEventType(spec: EventTypeMapping): (item: unknown, header: HeaderLookup) => WebhookEventType {
  const isObject = spec !== null && typeof spec === 'object' && !Array.isArray(spec);
  const { from, map, default: fallbackSpec } = isObject ? spec : { from: spec, map: undefined, default: undefined };
  const source = compileValue(from, isObject ? 'eventType.from' : 'eventType');
  if (map !== undefined && (map === null || typeof map !== 'object' || Array.isArray(map))) throw new DefinitionError('eventType.map: must be an object of raw value → event type');
  const exact = new Map<string, WebhookEventType>();
  const folded = new Map<string, WebhookEventType>();
  for (const [raw, target] of Object.entries(map ?? {})) {
    const type = asEventType(target);
    if (!type) throw new DefinitionError(`eventType.map.${raw}: ${JSON.stringify(target)} is not one of ${EVENT_TYPES.join(', ')}`);
    exact.set(raw, type);
    if (!folded.has(raw.toLowerCase())) folded.set(raw.toLowerCase(), type);
  }
  const fallback = fallbackSpec === undefined ? 'UNKNOWN' : asEventType(fallbackSpec);
  if (!fallback) throw new DefinitionError(`eventType.default: ${JSON.stringify(fallbackSpec)} is not one of ${EVENT_TYPES.join(', ')}`);
  return (item, header) => {
    const raw = source.resolve(item, header);
    if (raw === undefined) return fallback;
    const key = String(raw);
    return exact.get(key) ?? folded.get(key.toLowerCase()) ?? asEventType(key) ?? fallback;
  };
}

// ---------------------------------------------------------------------------------------------
// The mapping

interface CompiledMapping {
  items: CompiledJsonPath;
  objectType: CompiledValue;
  objectId: CompiledValue;
  eventType: (item: unknown, header: HeaderLookup) => WebhookEventType;
  date?: CompiledValue;
}

const compiledMappings = new WeakMap<object, CompiledMapping>();

function compileMapping(mapping: WebhookEventsMapping): CompiledMapping {
  if (mapping === null || typeof mapping !== 'object') throw new DefinitionError('the webhook events mapping must be an object');
  const cached = compiledMappings.get(mapping);
  if (cached) return cached;
  if (mapping.eventType === undefined) throw new DefinitionError('eventType: is required');
  const compiled: CompiledMapping = {
    items: compileJsonPath(mapping.itemsPath ?? '$', 'itemsPath'),
    objectType: compileValue(mapping.objectType, 'objectType'),
    objectId: compileValue(mapping.objectId, 'objectId'),
    eventType: compileEventType(mapping.eventType),
    date: mapping.date === undefined ? undefined : compileValue(mapping.date, 'date'),
  };
  if (mapping.recordPath !== undefined) compileJsonPath(mapping.recordPath, 'recordPath');
  compiledMappings.set(mapping, compiled);
  return compiled;
}

/** Load-time check of a mapping's value forms, JSONPaths and event types (DefinitionError). */
export function validateMapping(mapping: WebhookEventsMapping): void {
  compileMapping(mapping);
}

export function mapWebhookBody(mapping: WebhookEventsMapping, body: unknown, headers: Headers, receivedAtMs: number): { events: MappedEvent[]; unmapped: Unmapped[] } {
  const m = compileMapping(mapping);
  const header = headerLookup(headers);
  const events: MappedEvent[] = [];
  const unmapped: Unmapped[] = [];

  const found = m.items.all(body);
  if (found.length === 0) return { events, unmapped: [{ index: 0, reason: `no items at ${m.items.path}`, item: body }] };
  // A path naming an array node iterates its elements; an empty array is an empty batch.
  const items = m.items.selectsElements ? found : found.flatMap((node) => (Array.isArray(node) ? node : [node]));

  items.forEach((item, index) => {
    const objectType = m.objectType.resolve(item, header);
    if (objectType === undefined) return void unmapped.push({ index, reason: `no objectType at ${m.objectType.describe}`, item });
    const objectId = m.objectId.resolve(item, header);
    if (objectId === undefined) return void unmapped.push({ index, reason: `no objectId at ${m.objectId.describe}`, item });
    events.push({
      objectType: String(objectType),
      objectId: String(objectId),
      eventType: m.eventType(item, header),
      date: isoDate(m.date?.resolve(item, header), receivedAtMs),
      raw: item,
    });
  });
  return { events, unmapped };
}

/** Case-insensitive header reads; the lower-cased index is built on first use. */
function headerLookup(headers: Headers): HeaderLookup {
  let index: Map<string, string> | undefined;
  return (name) => {
    if (!index) {
      index = new Map();
      for (const [key, value] of Object.entries(headers ?? {})) {
        const first = Array.isArray(value) ? value[0] : value;
        if (typeof first === 'string') index.set(key.toLowerCase(), first);
      }
    }
    return index.get(name);
  };
}

/** The mapped date as ISO 8601, or the receive time when there is none or it does not parse. */
function isoDate(value: Scalar | undefined, receivedAtMs: number): string {
  let ms = Number.NaN;
  if (typeof value === 'number') ms = epochToMs(value);
  else if (typeof value === 'string') ms = /^-?\d+(\.\d+)?$/.test(value.trim()) ? epochToMs(Number(value)) : Date.parse(value);
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_DATE_MS) ms = receivedAtMs;
  return new Date(ms).toISOString();
}

/** Epoch seconds below 1e11 (until the year 5138), else milliseconds (after March 1973). */
function epochToMs(n: number): number {
  return Math.abs(n) < 1e11 ? n * 1000 : n;
}
