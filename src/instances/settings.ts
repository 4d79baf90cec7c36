import cronParser from 'cron-parser';
import { closest } from 'fastest-levenshtein';
import type { Config } from '../config/index.js';
import { ValidationError } from '../errors.js';
import { SETTING_KEYS } from '../connectors/settings-keys.js';

/**
 * Reads the Cloud Elements instance configuration keys (`event.*`) into typed settings, with every
 * problem collected as `{field, message}` so one 400 names them all.
 */
export type VendorType = 'polling' | 'webhook';
export type CallbackFormat = 'json' | 'xml' | 'form';

export interface CallbackSettings {
  url: string | null;
  /** GET and DELETE send no body: one request per event, tags in the URL (delivery/build.ts). */
  method: 'POST' | 'PUT' | 'PATCH' | 'GET' | 'DELETE';
  format: CallbackFormat;
  auth: { type: 'none' } | { type: 'basic'; username: string; password: string } | { type: 'bearer'; token: string };
  headers: Record<string, string>;
  signatureKey: string | null;
  /** Templated callbacks (one request per event); see delivery/. */
  template: string | null;
  responseMapping: Record<string, string> | null;
}

export interface InstanceSettings {
  notificationsEnabled: boolean;
  vendorType: VendorType;
  /** null: the instance does not poll (webhook mode without a safety-net interval). */
  refreshIntervalMs: number | null;
  /** Object types with an interval of their own (`event.poller.configuration.<type>.refresh_interval`). */
  objectIntervalsMs: Record<string, number>;
  cron: string | null;
  timeZone: string;
  /** Object type → poller object definition (from the instance, else the connector's defaults). */
  pollerConfiguration: Record<string, Record<string, unknown>>;
  callback: CallbackSettings;
  retrySchedule: number[] | null;
  /** Events per notification (replaces `delivery.maxEventsPerNotification` for this instance); null: the gateway's. */
  maxBatchSize: number | null;
}

/** The most events an instance may ask for in one notification (each event's record rides in the body). */
export const MAX_BATCH_SIZE = 1000;

export type Problem = { field: string; message: string };

const K = SETTING_KEYS;
const KNOWN_KEYS: string[] = Object.values(K);

/** Cloud Elements' other spellings of keys, read as pollgate's. */
const KEY_ALIASES: Record<string, string> = { eventNotificationCallbackUrl: K.url };

/**
 * The configuration with aliases renamed to pollgate's keys (`eventNotificationCallbackUrl` →
 * `event.notification.callback.url`); both spellings at once is a problem.
 */
export function withKeyAliases(configuration: Record<string, unknown>, problems: Problem[]): Record<string, unknown> {
  const out = { ...configuration };
  for (const [alias, key] of Object.entries(KEY_ALIASES)) {
    if (!Object.hasOwn(out, alias)) continue;
    if (Object.hasOwn(out, key)) problems.push({ field: alias, message: `is another spelling of "${key}"; give only one of them` });
    else out[key] = out[alias];
    delete out[alias];
  }
  return out;
}

/**
 * `event.*` keys pollgate does not read (a typo means nothing is ever delivered), each named with
 * the nearest known key. Keys the connector declares as fields of its own are not the gateway's.
 */
export function unknownEventKeys(configuration: Record<string, unknown>, connectorFields: ReadonlySet<string>): Problem[] {
  return Object.keys(configuration)
    .filter((key) => key.startsWith('event.') && !KNOWN_KEYS.includes(key) && !connectorFields.has(key))
    .map((key) => ({ field: key, message: `is not a configuration key pollgate knows; did you mean "${closest(key, KNOWN_KEYS)}"?` }));
}

export function readBoolean(value: unknown, field: string, problems: Problem[], fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  problems.push({ field, message: 'must be true or false (a boolean or the string "true"/"false")' });
  return fallback;
}

/** An object given as itself or as a JSON string (Cloud Elements sends both). */
function readObject(value: unknown, field: string, problems: Problem[]): Record<string, unknown> | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  let v = value;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      problems.push({ field, message: 'must be an object or a JSON string of an object' });
      return undefined;
    }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    problems.push({ field, message: 'must be an object' });
    return undefined;
  }
  return v as Record<string, unknown>;
}

function readString(value: unknown, field: string, problems: Problem[]): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') {
    problems.push({ field, message: 'must be a string' });
    return null;
  }
  return value;
}

function readEnum<T extends string>(value: unknown, field: string, allowed: readonly T[], fallback: T, problems: Problem[]): T {
  if (value === undefined || value === null || value === '') return fallback;
  const v = typeof value === 'string' ? value.trim() : value;
  const match = allowed.find((a) => typeof v === 'string' && a.toLowerCase() === v.toLowerCase());
  if (!match) problems.push({ field, message: `must be one of ${allowed.join(', ')}` });
  return match ?? fallback;
}

// Building a DateTimeFormat costs about a millisecond, and settings are read on every cache
// refresh of an instance's hot path (ingress, mapping, delivery): each zone is checked once.
const knownZones = new Map<string, boolean>();

function isTimeZone(tz: string): boolean {
  let known = knownZones.get(tz);
  if (known === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      known = true;
    } catch {
      known = false;
    }
    if (knownZones.size < 1000) knownZones.set(tz, known);
  }
  return known;
}

/** A poll interval in minutes (a number or numeric string; decimals allowed) → ms, within the configured limits. */
function readMinutes(value: unknown, field: string, limits: Config['poller'], problems: Problem[]): number | null {
  if (value === undefined || value === null || value === '') return null;
  const minutes = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  const minMinutes = limits.minIntervalSeconds / 60;
  if (!Number.isFinite(minutes)) problems.push({ field, message: 'must be a number of minutes' });
  else if (minutes < minMinutes || minutes > limits.maxIntervalMinutes) {
    problems.push({ field, message: `must be between ${+minMinutes.toFixed(4)} and ${limits.maxIntervalMinutes} minutes` });
  } else return Math.round(minutes * 60_000);
  return null;
}

export interface ConnectorEventInfo {
  supported: VendorType[];
  /** The connector's poller objects for instances in this mode. */
  pollerDefaults(vendorType: VendorType): Record<string, Record<string, unknown>>;
  /** The connector's poller object an instance's object of this type and URL completes, if any. */
  pollerDefaultFor(objectType: string, url: unknown, vendorType: VendorType): Record<string, unknown> | undefined;
  /** Its webhooks only say that something changed and poll objects (`pollOnNotification`): webhook mode polls too. */
  pollsOnNotification: boolean;
}

export function readSettings(config: Record<string, unknown>, connector: ConnectorEventInfo, limits: Config['poller'], problems: Problem[]): InstanceSettings {
  const vendorType = readEnum(config[K.vendorType], K.vendorType, ['polling', 'webhook'] as const, connector.supported[0] ?? 'polling', problems);
  if (!connector.supported.includes(vendorType)) {
    problems.push({ field: K.vendorType, message: `this connector supports ${connector.supported.join(', ') || 'no event mode'}` });
  }

  let refreshIntervalMs = readMinutes(config[K.interval], K.interval, limits, problems);
  // Polling mode polls at the default interval unless told otherwise; so does webhook mode when its
  // notifications poll objects (nothing would be read without the objects' rows; the interval is the safety net).
  if (refreshIntervalMs === null && (vendorType === 'polling' || connector.pollsOnNotification))
    refreshIntervalMs = Math.round(limits.defaultIntervalMinutes * 60_000);

  const timeZone = readString(config[K.timezone], K.timezone, problems) ?? 'UTC';
  if (!isTimeZone(timeZone)) problems.push({ field: K.timezone, message: `"${timeZone}" is not an IANA time zone` });
  const cron = readString(config[K.schedule], K.schedule, problems);
  if (cron) {
    try {
      const gap = shortestCronGapSeconds(cronParser.parseExpression(cron, { tz: isTimeZone(timeZone) ? timeZone : 'UTC', currentDate: CRON_SAMPLE_START }));
      if (gap < limits.minIntervalSeconds)
        problems.push({
          field: K.schedule,
          message: `fires ${gap} s apart; polls must be at least poller.minIntervalSeconds (${limits.minIntervalSeconds} s) apart`,
        });
    } catch (err) {
      problems.push({ field: K.schedule, message: `not a valid cron expression: ${(err as Error).message}` });
    }
  }

  const given = readObject(config[K.pollerConfig], K.pollerConfig, problems);
  const pollerConfiguration: Record<string, unknown> = given ? { ...given } : connector.pollerDefaults(vendorType);
  for (const [objectType, def] of Object.entries(pollerConfiguration)) {
    if (typeof def !== 'object' || def === null || Array.isArray(def)) {
      problems.push({ field: `${K.pollerConfig}.${objectType}`, message: 'must be an object with url and idField' });
    } else if (given) {
      // Cloud Elements' instance JSON gives just url and idField: the rest (datesConfiguration,
      // paging…) comes from the connector's object; what the instance gives wins.
      const own = def as Record<string, unknown>;
      pollerConfiguration[objectType] = { ...connector.pollerDefaultFor(objectType, own.url, vendorType), ...own };
    }
  }
  if (Object.keys(pollerConfiguration).length > limits.maxObjectsPerInstance) {
    problems.push({ field: K.pollerConfig, message: `at most ${limits.maxObjectsPerInstance} object types per instance (poller.maxObjectsPerInstance)` });
  }
  const objectIntervalsMs: Record<string, number> = {};
  for (const [objectType, def] of Object.entries(pollerConfiguration)) {
    const own = readMinutes((def as Record<string, unknown> | null)?.refresh_interval, `${K.pollerConfig}.${objectType}.refresh_interval`, limits, problems);
    if (own !== null) objectIntervalsMs[objectType] = own;
  }
  if (vendorType === 'polling' && Object.keys(pollerConfiguration).length === 0) {
    problems.push({ field: K.pollerConfig, message: 'no object types to poll: give event.poller.configuration (the connector has no poller defaults)' });
  }

  const callback = readCallback(config, problems);
  const notificationsEnabled = readBoolean(config[K.enabled], K.enabled, problems, callback.url !== null);
  if (notificationsEnabled && !callback.url) problems.push({ field: K.url, message: 'is required when event notifications are enabled' });

  let retrySchedule: number[] | null = null;
  const retry = config[K.retry];
  if (retry !== undefined && retry !== null && retry !== '') {
    let list: unknown = retry;
    if (typeof list === 'string') {
      try {
        list = JSON.parse(list);
      } catch {
        list = null;
      }
    }
    if (!Array.isArray(list) || list.length > 50 || !list.every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0)) {
      problems.push({ field: K.retry, message: 'must be a list of at most 50 non-negative numbers of seconds' });
    } else retrySchedule = list as number[];
  }

  const maxBatchSize = readBatchSize(config[K.maxBatchSize], problems);

  return {
    notificationsEnabled,
    vendorType,
    refreshIntervalMs,
    objectIntervalsMs,
    cron,
    timeZone,
    pollerConfiguration: pollerConfiguration as Record<string, Record<string, unknown>>,
    callback,
    retrySchedule,
    maxBatchSize,
  };
}

/** `event.notification.maxBatchSize`: a whole number of events from 1 to MAX_BATCH_SIZE (a number or numeric string). */
function readBatchSize(value: unknown, problems: Problem[]): number | null {
  if (value === undefined || value === null || value === '') return null;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_BATCH_SIZE) {
    problems.push({ field: K.maxBatchSize, message: `must be a whole number of events from 1 to ${MAX_BATCH_SIZE}` });
    return null;
  }
  return n;
}

function readCallback(config: Record<string, unknown>, problems: Problem[]): CallbackSettings {
  const url = readString(config[K.url], K.url, problems);
  const method = readEnum(config[K.method], K.method, ['POST', 'PUT', 'PATCH', 'GET', 'DELETE'] as const, 'POST', problems);
  const format = readEnum(config[K.format], K.format, ['json', 'xml', 'form'] as const, 'json', problems);
  const authType = readEnum(config[K.auth], K.auth, ['none', 'basic', 'bearer'] as const, 'none', problems);
  let auth: CallbackSettings['auth'] = { type: 'none' };
  if (authType === 'basic') {
    const username = readString(config[K.username], K.username, problems);
    const password = readString(config[K.password], K.password, problems);
    if (!username) problems.push({ field: K.username, message: 'is required for basic callback auth' });
    auth = { type: 'basic', username: username ?? '', password: password ?? '' };
  } else if (authType === 'bearer') {
    const token = readString(config[K.token], K.token, problems);
    if (!token) problems.push({ field: K.token, message: 'is required for bearer callback auth' });
    auth = { type: 'bearer', token: token ?? '' };
  }
  const headers: Record<string, string> = {};
  const rawHeaders = readObject(config[K.headers], K.headers, problems) ?? {};
  for (const [name, value] of Object.entries(rawHeaders)) {
    if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name) || typeof value !== 'string' || /[\r\n]/.test(value)) {
      problems.push({ field: `${K.headers}.${name}`, message: 'must be a valid header name with a string value' });
    } else headers[name] = value;
  }
  const responseMapping = readObject(config[K.responseMapping], K.responseMapping, problems) as Record<string, string> | undefined;
  if (responseMapping && !Object.values(responseMapping).every((v) => typeof v === 'string')) {
    problems.push({ field: K.responseMapping, message: 'must map names to JSONPath strings' });
  }
  const template = readString(config[K.template], K.template, problems);
  if (template && (method === 'GET' || method === 'DELETE')) {
    problems.push({ field: K.template, message: `builds a request body, and ${method} callbacks send none: put the tags in the callback URL` });
  }
  return {
    url,
    method,
    format,
    auth,
    headers,
    signatureKey: readString(config[K.signatureKey], K.signatureKey, problems),
    template,
    responseMapping: responseMapping ?? null,
  };
}

/**
 * Where an instance's callbacks go, as the origin of its callback URL (scheme, host and port; no
 * credentials): the key of the dispatcher's per-origin share of the send slots and circuit breaker.
 * Tags may stand in a URL's path and query only, so one instance has one origin. null: no usable URL.
 */
export function callbackOrigin(url: unknown): string | null {
  if (typeof url !== 'string' || !url) return null;
  try {
    const origin = new URL(url).origin;
    return origin === 'null' ? null : origin;
  } catch {
    return null;
  }
}

/** The callback origin of a stored instance configuration. */
export const callbackOriginOf = (configuration: Record<string, unknown>): string | null => callbackOrigin(configuration[K.url]);

export function throwIfProblems(problems: Problem[], what = 'the instance'): void {
  if (problems.length > 0) {
    const first = problems[0];
    const summary = problems.length === 1 ? `${first.field} ${first.message}` : `${problems.length} problems, first: ${first.field} ${first.message}`;
    throw new ValidationError(`${what} is not valid: ${summary}`, problems);
  }
}

// Cron gaps are judged on the first firings after a fixed instant, so the answer never depends on today.
const CRON_SAMPLE_START = new Date('2026-01-01T00:00:00Z');
const CRON_SAMPLE_FIRINGS = 100;

/** The shortest gap, in seconds, between consecutive firings among the first ones of a cron expression. */
function shortestCronGapSeconds(expression: ReturnType<typeof cronParser.parseExpression>): number {
  let previous = (expression.next() as { getTime(): number }).getTime();
  let shortest = Infinity;
  for (let i = 1; i < CRON_SAMPLE_FIRINGS && expression.hasNext(); i++) {
    const next = (expression.next() as { getTime(): number }).getTime();
    shortest = Math.min(shortest, (next - previous) / 1000);
    previous = next;
  }
  return shortest;
}
