import { authAlternatives, isSet } from './auth-alternatives.js';
import type { ConnectorDefinition } from './schema.js';

/**
 * OAuth 2.0 redirect parameters kept as configuration (docs/auth.md "OAuth 2.0 (authorization code)"): some
 * providers add to the redirect, beside `code`, a value every later call needs — Intuit's `realmId`,
 * the company the user picked. A connector declares them as `auth.callbackParams` (`{"realmId":
 * "quickbooks.realm.id"}`); the hosted connect callback hands them on in `providerData`, and an
 * integrator who hosts the redirect does the same, so the user never types them.
 */

/** The redirect parameters the connector's OAuth 2.0 alternatives keep, by parameter name. */
export function callbackParams(connector: Pick<ConnectorDefinition, 'auth'>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of authAlternatives(connector)) if (a.type === 'oauth2') Object.assign(out, a.callbackParams);
  return out;
}

/** The configuration keys filled from the redirect (the connect page does not ask for them). */
export function callbackKeys(connector: Pick<ConnectorDefinition, 'auth'>): Set<string> {
  return new Set(Object.values(callbackParams(connector)));
}

/** A redirect value that can be kept: a short single-line string. */
const MAX_VALUE_LENGTH = 256;

/**
 * The configuration with each declared redirect parameter found in `providerData` set under its
 * key — unless `given` (the keys the request itself sets) names that key: what the caller says wins.
 */
export function withCallbackParams(
  connector: Pick<ConnectorDefinition, 'auth'>,
  configuration: Record<string, unknown>,
  providerData: unknown,
  given: Record<string, unknown> = configuration,
): Record<string, unknown> {
  if (typeof providerData !== 'object' || providerData === null) return configuration;
  const data = providerData as Record<string, unknown>;
  let out = configuration;
  for (const [param, key] of Object.entries(callbackParams(connector))) {
    const value = Object.hasOwn(data, param) ? data[param] : undefined;
    if (typeof value !== 'string' || !isSet(value) || value.length > MAX_VALUE_LENGTH || /[\r\n]/.test(value) || isSet(given[key])) continue;
    out = { ...out, [key]: value };
  }
  return out;
}

/** The declared redirect parameters present in the redirect's query, for `providerData`. */
export function pickCallbackParams(connector: Pick<ConnectorDefinition, 'auth'>, query: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const param of Object.keys(callbackParams(connector))) {
    const value = query[param];
    if (typeof value === 'string' && value !== '') out[param] = value;
  }
  return out;
}
