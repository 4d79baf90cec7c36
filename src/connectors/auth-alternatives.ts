import type { AuthAlternative, AuthDefinition, ConnectorDefinition, OAuth1Definition, OAuth2Definition } from './schema.js';

/**
 * A connector's `auth` is one definition or a list of alternatives (a private-app token or OAuth
 * 2.0…). Which one an instance uses follows from its configuration alone: the first alternative
 * whose `when` keys are all set. Everything that authenticates a provider call asks here.
 */
export function authAlternatives(connector: Pick<ConnectorDefinition, 'auth'>): AuthAlternative[] {
  const { auth } = connector;
  if (auth === undefined) return [];
  return Array.isArray(auth) ? auth : [auth];
}

/** Whether a configuration value counts as given (not empty or blank). */
export const isSet = (v: unknown): boolean => v !== undefined && v !== null && !(typeof v === 'string' && v.trim() === '');

const keysOf = (keys: string | string[] | undefined): string[] => (keys === undefined ? [] : Array.isArray(keys) ? keys : [keys]);

/**
 * Whether a configuration picks a variant that names `when` keys (all must be set) and `unless`
 * keys (none may be): a webhook registration or signature chosen by the auth in use.
 */
export function configurationPicks(variant: { when?: string | string[]; unless?: string | string[] }, configuration: Record<string, unknown>): boolean {
  return keysOf(variant.when).every((key) => isSet(configuration[key])) && !keysOf(variant.unless).some((key) => isSet(configuration[key]));
}

export function whenKeys(alternative: AuthAlternative): string[] {
  return alternative.when === undefined ? [] : Array.isArray(alternative.when) ? alternative.when : [alternative.when];
}

function matches(alternative: AuthAlternative, configuration: Record<string, unknown>): boolean {
  return whenKeys(alternative).every((key) => isSet(configuration[key]));
}

/** The auth an instance with this configuration uses; undefined without auth or when none fits. */
export function authOf(connector: Pick<ConnectorDefinition, 'auth'>, configuration: Record<string, unknown>): AuthDefinition | undefined {
  return authAlternatives(connector).find((a) => matches(a, configuration));
}

/** The alternative a user grants access through (the OAuth flow endpoints), if the connector has one. */
export function userGrantedOAuth(connector: Pick<ConnectorDefinition, 'auth'>): OAuth2Definition | OAuth1Definition | undefined {
  return authAlternatives(connector).find((a): a is AuthAlternative & (OAuth2Definition | OAuth1Definition) => a.type === 'oauth2' || a.type === 'oauth1');
}

/**
 * Why no alternative fits this configuration (undefined when one does): names, per alternative,
 * the keys it needs that are not set.
 */
export function unmatchedAuth(connector: Pick<ConnectorDefinition, 'auth' | 'key'>, configuration: Record<string, unknown>): string | undefined {
  const alternatives = authAlternatives(connector);
  if (alternatives.length === 0 || alternatives.some((a) => matches(a, configuration))) return undefined;
  const options = alternatives.map(
    (a) =>
      `${whenKeys(a)
        .filter((k) => !isSet(configuration[k]))
        .join(' and ')} (${a.type})`,
  );
  return `fits none of the auth alternatives of "${connector.key}": set ${options.join(' or ')}`;
}
