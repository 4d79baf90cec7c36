import type { PollerEventsDefinition } from './schema.js';
import { DefinitionError } from '../errors.js';
import { compileJsonPath, matchesWithPlaces, type CompiledJsonPath, type MatchPlace } from '../lib/json-path.js';

/**
 * Mapping a parsed webhook body to normalized events (docs/connectors.md "Webhooks").
 *
 * A mapping value is `"$…"` (a JSONPath on the item, first match), `"header:<Name>"` (a request
 * header, any case), `"=<text>"` (a literal), `"@key"` (the property name or index the item was
 * found under: records keyed by their ids, `{"recA": {…}}`), `"@path"` (the item's JSONPath in the
 * body, `$['created']['recA']`, to tell items apart by where they sit), or an array of these: the
 * first that yields a value.
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
/**
 * A value read with `from`, then narrowed: `pattern` (a regular expression; its first capture group,
 * else the whole match, replaces the value; no match yields nothing), then looked up in `map`
 * (exactly, then in any case); a value not in the map stays as it is; nothing read gives `default`.
 */
export type DerivedValue = { from: MappingValue; pattern?: string; map?: Record<string, string>; default?: string };
export type EventTypeMapping = MappingValue | DerivedValue;
export type WebhookEventsMapping = {
  itemsPath?: string;
  objectType: MappingValue | DerivedValue;
  objectId: MappingValue;
  eventType: EventTypeMapping;
  date?: MappingValue;
  /** JSONPaths to the record inside an item (the first that finds an object); default the item. */
  recordPath?: string | string[];
  /** Items whose `from` value is one of `values` raise nothing and are not counted as unmapped (GitHub's ping). */
  ignore?: { from: MappingValue; values: string[] };
  /** Thin notifications' fetch (webhooks/thin-fetch.ts); not used by the mapping itself. */
  fetch?: { request: string | Record<string, string>; context: Record<string, string> };
};
export type WebhookEventType = 'CREATED' | 'UPDATED' | 'DELETED' | 'UNKNOWN';
export type MappedEvent = { objectType: string; objectId: string; eventType: WebhookEventType; date: string; raw: unknown; record: unknown };
/** An item that produced no event; `index` is the item's position (0 when no item was found). */
export type Unmapped = { index: number; reason: string; item: unknown };
type Headers = Record<string, string | string[] | undefined>;

type Scalar = string | number | boolean;
type HeaderLookup = (lowerCaseName: string) => string | undefined;
/** An item and where `itemsPath` found it (only read when the mapping uses `@key` or `@path`). */
type Item = { value: unknown; place?: MatchPlace };

const EVENT_TYPES: readonly WebhookEventType[] = ['CREATED', 'UPDATED', 'DELETED', 'UNKNOWN'];
const MAX_DATE_MS = 8.64e15; // the largest time a Date can hold

// ---------------------------------------------------------------------------------------------
// Mapping values

interface CompiledValue {
  /** The spec as written, for reasons: "$.data.id, $.id". */
  readonly describe: string;
  resolve(item: Item, header: HeaderLookup): Scalar | undefined;
  /** Whether it reads where the item sits (`@key`, `@path`). */
  readonly placed: boolean;
}

const VALUE_FORMS = 'a JSONPath ("$…"), "header:<Name>", "=<text>", "@key" or "@path"';
const PLACE_FORMS: Record<string, (place: MatchPlace | undefined) => unknown> = { '@key': (p) => p?.key, '@path': (p) => p?.path };
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

function isScalar(value: unknown): value is Scalar {
  return (typeof value === 'string' && value !== '') || (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean';
}

type Candidate = ((item: Item, header: HeaderLookup) => unknown) & { placed?: boolean };

function compileCandidate(spec: unknown, field: string): Candidate {
  if (typeof spec !== 'string' || spec === '') throw new DefinitionError(`${field}: must be ${VALUE_FORMS}`);
  const placeForm = Object.hasOwn(PLACE_FORMS, spec) ? PLACE_FORMS[spec] : undefined;
  if (placeForm) return Object.assign((item: Item) => placeForm(item.place), { placed: true });
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
    return (item) => path.first(item.value);
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
    placed: readers.some((r) => r.placed === true),
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

/**
 * A mapping value or `{from, pattern, map, default}` (see DerivedValue), as a function giving the
 * value or undefined. `checkTarget` vets each map target and the default at compile time.
 */
function compileDerived(spec: MappingValue | DerivedValue, field: string, checkTarget: (value: string, field: string) => void = () => {}): CompiledValue {
  const isObject = spec !== null && typeof spec === 'object' && !Array.isArray(spec);
  if (!isObject) return compileValue(spec, field);
  const { from, pattern, map, default: fallback } = spec;
  const source = compileValue(from, `${field}.from`);
  if (map !== undefined && (map === null || typeof map !== 'object' || Array.isArray(map)))
    throw new DefinitionError(`${field}.map: must be an object of raw value → value`);
  let regex: RegExp | undefined;
  if (pattern !== undefined) {
    try {
      regex = new RegExp(pattern);
    } catch (err) {
      throw new DefinitionError(`${field}.pattern: ${(err as Error).message}`);
    }
  }
  const exact = new Map<string, string>();
  const folded = new Map<string, string>();
  for (const [raw, target] of Object.entries(map ?? {})) {
    if (typeof target !== 'string' || target === '') throw new DefinitionError(`${field}.map.${raw}: must be a non-empty string`);
    checkTarget(target, `${field}.map.${raw}`);
    exact.set(raw, target);
    if (!folded.has(raw.toLowerCase())) folded.set(raw.toLowerCase(), target);
  }
  if (fallback !== undefined) checkTarget(fallback, `${field}.default`);
  return {
    describe: source.describe,
    placed: source.placed,
    resolve(item, header) {
      const raw = source.resolve(item, header);
      let key = raw === undefined ? undefined : String(raw);
      if (key !== undefined && regex) {
        const m = regex.exec(key);
        key = m ? (m[1] ?? m[0]) : undefined;
      }
      if (key === undefined || key === '') return fallback;
      return exact.get(key) ?? folded.get(key.toLowerCase()) ?? key;
    },
  };
}

function compileEventType(spec: EventTypeMapping): ((item: Item, header: HeaderLookup) => WebhookEventType) & { placed: boolean } {
  const isObject = spec !== null && typeof spec === 'object' && !Array.isArray(spec);
  const value = compileDerived(spec, 'eventType', (target, at) => {
    if (!asEventType(target)) throw new DefinitionError(`${at}: ${JSON.stringify(target)} is not one of ${EVENT_TYPES.join(', ')}`);
  });
  // A raw value that is not in the map may itself name one of the four; anything else is the default.
  const fallback = (isObject && spec.default !== undefined ? asEventType(spec.default) : undefined) ?? 'UNKNOWN';
  return Object.assign((item: Item, header: HeaderLookup) => asEventType(value.resolve(item, header)) ?? fallback, { placed: value.placed });
}

// ---------------------------------------------------------------------------------------------
// The mapping

interface CompiledMapping {
  items: CompiledJsonPath;
  objectType: CompiledValue;
  records: CompiledJsonPath[];
  ignore?: { from: CompiledValue; values: Set<string> };
  objectId: CompiledValue;
  eventType: ((item: Item, header: HeaderLookup) => WebhookEventType) & { placed: boolean };
  date?: CompiledValue;
  /** Some value reads where the item sits: items are found with their places. */
  placed: boolean;
}

const compiledMappings = new WeakMap<object, CompiledMapping>();

function compileMapping(mapping: WebhookEventsMapping): CompiledMapping {
  if (mapping === null || typeof mapping !== 'object') throw new DefinitionError('the webhook events mapping must be an object');
  const cached = compiledMappings.get(mapping);
  if (cached) return cached;
  if (mapping.eventType === undefined) throw new DefinitionError('eventType: is required');
  const compiled: CompiledMapping = {
    items: compileJsonPath(mapping.itemsPath ?? '$', 'itemsPath'),
    objectType: compileDerived(mapping.objectType, 'objectType'),
    records: (Array.isArray(mapping.recordPath) ? mapping.recordPath : mapping.recordPath === undefined ? [] : [mapping.recordPath]).map((p, i) =>
      compileJsonPath(p, Array.isArray(mapping.recordPath) ? `recordPath[${i}]` : 'recordPath'),
    ),
    ignore: mapping.ignore && compileIgnore(mapping.ignore),
    objectId: compileValue(mapping.objectId, 'objectId'),
    eventType: compileEventType(mapping.eventType),
    date: mapping.date === undefined ? undefined : compileValue(mapping.date, 'date'),
    placed: false,
  };
  compiled.placed = [compiled.objectType, compiled.objectId, compiled.eventType, compiled.date, compiled.ignore?.from].some((v) => v?.placed === true);
  compiledMappings.set(mapping, compiled);
  return compiled;
}

function compileIgnore(ignore: NonNullable<WebhookEventsMapping['ignore']>): CompiledMapping['ignore'] {
  if (!Array.isArray(ignore.values) || !ignore.values.every((v) => typeof v === 'string'))
    throw new DefinitionError('ignore.values: must be a list of strings');
  return { from: compileValue(ignore.from, 'ignore.from'), values: new Set(ignore.values) };
}

/** The record inside an item: the first recordPath that finds an object, else the item itself. */
function recordOf(m: CompiledMapping, item: unknown): unknown {
  for (const path of m.records) {
    const found = path.first(item);
    if (found !== null && typeof found === 'object') return found;
  }
  return m.records.length ? undefined : item;
}

/** The items `itemsPath` selects; undefined when it finds nothing (an empty array is no items). */
function itemsOf(m: CompiledMapping, body: unknown): Item[] | undefined {
  if (m.placed) return placedItemsOf(m, body);
  const found = m.items.all(body);
  if (found.length === 0) return undefined;
  // A path naming an array node iterates its elements; an empty array is an empty batch.
  return (m.items.selectsElements ? found : found.flatMap((node) => (Array.isArray(node) ? node : [node]))).map((value) => ({ value }));
}

/** itemsOf, each item with where it sits (an array node's elements under their indexes). */
function placedItemsOf(m: CompiledMapping, body: unknown): Item[] | undefined {
  const found = matchesWithPlaces(m.items, body);
  if (found.length === 0) return undefined;
  if (m.items.selectsElements) return found;
  return found.flatMap(({ value, place }) =>
    Array.isArray(value) ? value.map((element, i) => ({ value: element, place: { key: i, path: `${place.path}[${i}]` } })) : [{ value, place }],
  );
}

/** The items a body holds for this mapping (none when `itemsPath` finds nothing). */
export function webhookItems(mapping: WebhookEventsMapping, body: unknown): unknown[] {
  return (itemsOf(compileMapping(mapping), body) ?? []).map((item) => item.value);
}

/** How many items a body holds for this mapping: what `webhooks.maxItemsPerBody` bounds at ingress. */
export function countWebhookItems(mapping: WebhookEventsMapping, body: unknown): number {
  return itemsOf(compileMapping(mapping), body)?.length ?? 0;
}

/**
 * Poller objects that list a provider's event log (Stripe's /v1/events) instead of its records.
 * Each listed item is an event, keyed by its own id: the diff raises a new item once, and here it
 * becomes the event it describes — the object's id, the type the item names, and the object
 * itself as the record — using the same mapping values as webhooks.
 */
export function pollerEventsMapping(objectType: string, events: PollerEventsDefinition): WebhookEventsMapping {
  return {
    objectType: `=${objectType}`,
    objectId: events.objectId,
    eventType: events.eventType,
    date: events.date,
    recordPath: events.recordPath,
    ...(events.itemsPath ? { itemsPath: events.itemsPath } : {}),
  };
}

/** Load-time check of a mapping's value forms, JSONPaths and event types (DefinitionError). */
export function validateMapping(mapping: WebhookEventsMapping): void {
  compileMapping(mapping);
}

export function mapWebhookBody(
  mapping: WebhookEventsMapping,
  body: unknown,
  headers: Headers,
  receivedAtMs: number,
  /** Says why an item is left out: `reason` counts it as unmapped, an empty reason skips it silently. */
  skip?: (item: unknown) => { reason: string } | undefined,
): { events: MappedEvent[]; unmapped: Unmapped[] } {
  const m = compileMapping(mapping);
  const header = headerLookup(headers);
  const events: MappedEvent[] = [];
  const unmapped: Unmapped[] = [];

  const items = itemsOf(m, body);
  if (items === undefined) return { events, unmapped: [{ index: 0, reason: `no items at ${m.items.path}`, item: body }] };

  items.forEach((item, index) => {
    const skipped = skip?.(item.value);
    if (skipped) return void (skipped.reason && unmapped.push({ index, reason: skipped.reason, item: item.value }));
    if (m.ignore?.values.has(String(m.ignore.from.resolve(item, header)))) return;
    const objectType = m.objectType.resolve(item, header);
    if (objectType === undefined) return void unmapped.push({ index, reason: `no objectType at ${m.objectType.describe}`, item: item.value });
    const objectId = m.objectId.resolve(item, header);
    if (objectId === undefined) return void unmapped.push({ index, reason: `no objectId at ${m.objectId.describe}`, item: item.value });
    events.push({
      objectType: String(objectType),
      objectId: String(objectId),
      eventType: m.eventType(item, header),
      date: isoDate(m.date?.resolve(item, header), receivedAtMs),
      raw: item.value,
      record: recordOf(m, item.value),
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
