import { randomBytes } from 'node:crypto';
import type { Config } from '../config/index.js';
import { REDACTED, isSecretKey } from '../secrets/redact.js';
import { unsafeTextReason } from '../api/text.js';
import type { ConnectorDefinition } from '../connectors/schema.js';
import { resolvePollerObject, resourceOfPollerUrl } from '../connectors/resolve.js';
import { validateDateTemplates } from '../templates/date-template.js';
import { providerBaseUrl } from '../provider/request-builder.js';
import { checkUrlSyntax } from '../network/ssrf-guard.js';
import { validateCallbackTemplate } from '../delivery/callback-template.js';
import { callbackOriginOf, readSettings, unknownEventKeys, type ConnectorEventInfo, type InstanceSettings, type Problem } from './settings.js';

/**
 * The rules of an instance's create and PATCH bodies (service.ts applies them): connector fields
 * and defaults, settings, URLs, templates, names and tags, and the secrets a PATCH must give again.
 * Each adds its problems to a list, so one 400 names them all.
 */
/** The connector's defaults (and generated secrets) for fields left empty. */
export function withConnectorDefaults(connector: ConnectorDefinition, configuration: Record<string, unknown>): Record<string, unknown> {
  const out = { ...configuration };
  for (const field of connector.configuration ?? []) {
    const value = out[field.key];
    if (value !== undefined && value !== null && value !== '') continue;
    if (field.default !== undefined) out[field.key] = field.default;
    // A secret pollgate makes up and hands to the provider itself (GitHub's hook secret).
    else if (field.generate) out[field.key] = randomBytes(32).toString('hex');
  }
  return out;
}

function checkConnectorFields(connector: ConnectorDefinition, configuration: Record<string, unknown>, problems: Problem[]): void {
  for (const field of connector.configuration ?? []) {
    const value = configuration[field.key];
    if (value === undefined || value === null || value === '') {
      if (field.required) problems.push({ field: `configuration.${field.key}`, message: 'is required by this connector' });
    } else if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      problems.push({ field: `configuration.${field.key}`, message: 'must be a string, number or boolean' });
    }
  }
}

/** Every problem of a configuration for this connector into `problems`; the settings it reads as. */
export function validateConfiguration(
  connector: ConnectorDefinition,
  configuration: Record<string, unknown>,
  config: Config,
  problems: Problem[],
): InstanceSettings {
  checkConnectorFields(connector, configuration, problems);
  problems.push(...unknownEventKeys(configuration, new Set((connector.configuration ?? []).map((f) => f.key))));
  const settings = readSettings(configuration, eventInfo(connector), config.poller, problems);
  if (settings.callback.url) {
    try {
      checkUrlSyntax(settings.callback.url, config.network);
    } catch (err) {
      problems.push({ field: 'event.notification.callback.url', message: (err as Error).message });
    }
  }
  if (settings.callback.template) problems.push(...validateCallbackTemplate(settings.callback.template, 'event.notification.callback.template'));
  if (settings.callback.url) problems.push(...validateCallbackTemplate(settings.callback.url, 'event.notification.callback.url'));
  if (connector.baseUrl) {
    // The provider's base URL comes from the configuration: refuse a hostile one now.
    try {
      checkUrlSyntax(providerBaseUrl(connector.baseUrl, { iparam: configuration, context: {} }), config.network, 'provider URL');
    } catch (err) {
      problems.push({ field: 'configuration', message: (err as Error).message });
    }
  }
  if (settings.refreshIntervalMs !== null) {
    for (const [objectType, def] of Object.entries(settings.pollerConfiguration)) {
      try {
        resolvePollerObject(connector, objectType, def);
        validateDateTemplates(String(def.url));
        if (def.body !== undefined) validateDateTemplates(JSON.stringify(def.body));
      } catch (err) {
        problems.push({ field: `event.poller.configuration.${objectType}`, message: (err as Error).message });
      }
    }
  }
  return settings;
}

/**
 * A PATCH that moves where secrets are sent (the provider's origin, or the callback's) must give
 * those secrets again: otherwise changing `base_url` alone would send the stored credentials to
 * a host of the caller's choosing.
 */
export function secretsToResupply(
  connector: ConnectorDefinition,
  secrets: ReadonlySet<string>,
  before: Record<string, unknown>,
  after: Record<string, unknown>,
  supplied: Record<string, unknown>,
): Problem[] {
  const given = (v: unknown) => v !== undefined && v !== null && v !== REDACTED;
  const providerOrigin = (c: Record<string, unknown>) => originOf(() => providerBaseUrl(connector.baseUrl, { iparam: c, context: {} }));
  const callbackOrigin = (c: Record<string, unknown>) => callbackOriginOf(c) ?? '';
  const missing: string[] = [];
  const check = (moved: boolean, isAffected: (key: string) => boolean) => {
    if (!moved) return;
    for (const key of Object.keys(before)) {
      if (key !== CALLBACK_HEADERS && isAffected(key) && isSecretKey(key, secrets) && key in after && !given(supplied[key])) missing.push(key);
    }
  };
  check(providerOrigin(before) !== providerOrigin(after), (key) => !key.startsWith('event.notification.'));
  const callbackMoved = callbackOrigin(before) !== callbackOrigin(after);
  check(callbackMoved, (key) => key.startsWith('event.notification.callback.'));
  const headers = before[CALLBACK_HEADERS];
  if (callbackMoved && headers && typeof headers === 'object' && after[CALLBACK_HEADERS] !== undefined) {
    const sent = supplied[CALLBACK_HEADERS] as Record<string, unknown> | undefined;
    if (!sent || Object.values(sent).some((v) => !given(v))) missing.push(CALLBACK_HEADERS);
  }
  return missing.map((key) => ({ field: `configuration.${key}`, message: 'must be given again in this PATCH: the change sends it to another host' }));
}

export const CALLBACK_HEADERS = 'event.notification.callback.headers';

/** The origin a URL-producing function gives, or '' when it gives none (unset or invalid). */
function originOf(url: () => string): string {
  try {
    return new URL(url()).origin;
  } catch {
    return '';
  }
}

/** Callback headers sent back as "********" (as answers show them) keep their stored values. */
export function keepRedactedHeaders(supplied: unknown, stored: unknown): unknown {
  if (typeof supplied !== 'object' || supplied === null || Array.isArray(supplied) || typeof stored !== 'object' || stored === null) return supplied;
  const old = stored as Record<string, unknown>;
  return Object.fromEntries(Object.entries(supplied).map(([h, v]) => [h, v === REDACTED && h in old ? old[h] : v]));
}

export function eventInfo(connector: ConnectorDefinition): ConnectorEventInfo {
  const pollerDefaults = (connector.events?.poller ?? {}) as unknown as Record<string, Record<string, unknown>>;
  return {
    supported: (connector.events?.supported ?? []) as Array<'polling' | 'webhook'>,
    pollerDefaults,
    // The object of the same name, else the one whose URL reads the same resource.
    pollerDefaultFor(objectType, url) {
      if (Object.hasOwn(pollerDefaults, objectType)) return pollerDefaults[objectType];
      const resource = typeof url === 'string' ? resourceOfPollerUrl(connector, objectType, url) : undefined;
      if (!resource) return undefined;
      return Object.entries(pollerDefaults).find(([type, def]) => resourceOfPollerUrl(connector, type, String(def.url)) === resource)?.[1];
    },
  };
}

export function nameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.trim() === '' || name.length > 255) return 'must be a non-empty string of at most 255 characters';
  return unsafeTextReason(name);
}

export function readTags(value: unknown, problems: Problem[]): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((t) => typeof t === 'string' && t.length <= 100) || value.length > 50) {
    problems.push({ field: 'tags', message: 'must be a list of at most 50 strings' });
    return [];
  }
  const unsafe = value.map((t: string) => unsafeTextReason(t)).find(Boolean);
  if (unsafe) {
    problems.push({ field: 'tags', message: unsafe });
    return [];
  }
  return value as string[];
}
