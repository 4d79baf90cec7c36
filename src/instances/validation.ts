import { randomBytes } from 'node:crypto';
import type { Config } from '../config/index.js';
import { REDACTED, isSecretKey } from '../secrets/redact.js';
import { unsafeTextReason } from '../api/text.js';
import type { ConnectorDefinition } from '../connectors/schema.js';
import { pollerObjectsFor, resolvePollerObject, resourceOfPollerUrl } from '../connectors/resolve.js';
import { datesConfigurationProblems } from '../connectors/dates-configuration.js';
import { validateDateTemplates } from '../templates/date-template.js';
import { providerBaseUrl } from '../provider/request-builder.js';
import { BASE_URL_KEY } from '../connectors/settings-keys.js';
import { iparamValue, listTemplateRefs, renderHost } from '../templates/request-template.js';
import { checkUrlSyntax } from '../network/ssrf-guard.js';
import type { ConfigurationChange } from './hooks.js';
import { readSettings, unknownEventKeys, type ConnectorEventInfo, type InstanceSettings, type Problem } from './settings.js';

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
  /** The connector's auth, as configured, brings the API base with its token (a hook says so). */
  authGivesBaseUrl = false,
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
  const baseUrlProblems = authGivesBaseUrl ? [] : unsetBaseUrlKeys(connector, configuration);
  problems.push(...baseUrlProblems);
  if (connector.baseUrl && baseUrlProblems.length === 0) {
    // The provider's base URL comes from the configuration: refuse a hostile one now.
    try {
      checkUrlSyntax(providerBaseUrl(connector.baseUrl, { iparam: configuration, context: {} }), config.network, 'provider URL');
    } catch (err) {
      problems.push({ field: 'configuration', message: (err as Error).message });
    }
  }
  problems.push(...templateHostProblems(connector, configuration));
  if (settings.refreshIntervalMs !== null) {
    for (const [objectType, def] of Object.entries(settings.pollerConfiguration)) {
      try {
        resolvePollerObject(connector, objectType, def);
        validateDateTemplates(String(def.url));
        if (def.body !== undefined) validateDateTemplates(JSON.stringify(def.body));
      } catch (err) {
        problems.push({ field: `event.poller.configuration.${objectType}`, message: (err as Error).message });
      }
      for (const p of datesConfigurationProblems(def.datesConfiguration)) {
        problems.push({ field: `event.poller.configuration.${objectType}.datesConfiguration${p.key ? `.${p.key}` : ''}`, message: p.message });
      }
    }
  }
  return settings;
}

const isSet = (v: unknown) => v !== undefined && v !== null && !(typeof v === 'string' && v.trim() === '');

/**
 * The keys the provider's address is built from (`https://<%= iparam.desk.site %>.desk.com`) are
 * required whenever that address is used — no `base.url`, and no auth that takes the address from
 * its token answer (the caller knows) — whatever the field's own `required` says: without them the
 * first call would go to `.desk.com`.
 */
function unsetBaseUrlKeys(connector: ConnectorDefinition, configuration: Record<string, unknown>): Problem[] {
  if (!connector.baseUrl || isSet(configuration[BASE_URL_KEY])) return [];
  let refs: ReturnType<typeof listTemplateRefs>;
  try {
    refs = listTemplateRefs(connector.baseUrl);
  } catch {
    return []; // the connector was validated: not reached
  }
  const unset = [...new Set(refs.filter((r) => r.root === 'iparam' && !isSet(iparamValue(configuration, r.path))).map((r) => r.path))];
  return unset.map((key) => ({
    field: `configuration.${key}`,
    message: `is required: the provider's address ${connector.baseUrl} is built from it (or give ${BASE_URL_KEY})`,
  }));
}

/** A request template's host built from the configuration must be a domain name: checked once its values are given. */
function templateHostProblems(connector: ConnectorDefinition, configuration: Record<string, unknown>): Problem[] {
  const problems = new Map<string, Problem>();
  for (const [name, template] of Object.entries(connector.requests ?? {})) {
    const host = template.schema.host;
    if (typeof host !== 'string') continue;
    const refs = listTemplateRefs(host);
    if (!refs.every((r) => r.root === 'iparam' && isSet(iparamValue(configuration, r.path)))) continue;
    try {
      renderHost(host, { iparam: configuration, context: {} });
    } catch (err) {
      // A bad value names its key; a bad whole (an IP address) the one key it is built from, if one.
      const detail = (err as { details?: Array<{ field?: string }> }).details?.[0]?.field;
      const keys = [...new Set(refs.map((r) => r.path))];
      const field = detail?.startsWith('configuration.') ? detail : keys.length === 1 ? `configuration.${keys[0]}` : 'configuration';
      const message = (err as Error).message.replace(`${field} `, '');
      if (!problems.has(field)) problems.set(field, { field, message: `${message} (request template "${name}")` });
    }
  }
  return [...problems.values()];
}

/** A value a PATCH gives: "********" (what answers show for secrets) keeps the stored one, so it is not given. */
export const isGiven = (v: unknown): boolean => v !== undefined && v !== null && v !== REDACTED;

/**
 * A PATCH that moves where secrets are sent must give those secrets again: otherwise changing
 * `base.url`, `oauth.base.url` or a value a token URL or request template host is built from
 * would send the stored credentials to a host of the caller's choosing. Each feature that sends
 * secrets checks its destinations (hooks' `checkChange`: auth the API and OAuth endpoints,
 * delivery the callback's origin); these are the secret keys of the configuration before the
 * PATCH that `isAffected` picks, kept by the PATCH and not given in it.
 */
export function secretsToGiveAgain(change: ConfigurationChange, isAffected: (key: string) => boolean): string[] {
  const { before, after, supplied, secrets } = change;
  return Object.keys(before).filter(
    (key) => key !== CALLBACK_HEADERS && isAffected(key) && isSecretKey(key, secrets) && key in after && !isGiven(supplied[key]),
  );
}

export function giveAgainProblem(key: string, where: string): Problem {
  return { field: `configuration.${key}`, message: `must be given again in this PATCH: the change sends it to another host (${where})` };
}

export const CALLBACK_HEADERS = 'event.notification.callback.headers';

/** Callback headers sent back as "********" (as answers show them) keep their stored values. */
export function keepRedactedHeaders(supplied: unknown, stored: unknown): unknown {
  if (typeof supplied !== 'object' || supplied === null || Array.isArray(supplied) || typeof stored !== 'object' || stored === null) return supplied;
  const old = stored as Record<string, unknown>;
  return Object.fromEntries(Object.entries(supplied).map(([h, v]) => [h, v === REDACTED && h in old ? old[h] : v]));
}

export function eventInfo(connector: ConnectorDefinition): ConnectorEventInfo {
  const pollerDefaults = (vendorType: 'polling' | 'webhook') => pollerObjectsFor(connector, vendorType) as unknown as Record<string, Record<string, unknown>>;
  return {
    supported: (connector.events?.supported ?? []) as Array<'polling' | 'webhook'>,
    pollerDefaults,
    pollsOnNotification: (connector.events?.webhook?.pollOnNotification?.length ?? 0) > 0,
    // The object of the same name, else the one whose URL reads the same resource.
    pollerDefaultFor(objectType, url, vendorType) {
      const defaults = pollerDefaults(vendorType);
      if (Object.hasOwn(defaults, objectType)) return defaults[objectType];
      const resource = typeof url === 'string' ? resourceOfPollerUrl(connector, objectType, url) : undefined;
      if (!resource) return undefined;
      return Object.entries(defaults).find(([type, def]) => resourceOfPollerUrl(connector, type, String(def.url)) === resource)?.[1];
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
