import type { AuthDefinition, OAuth1Definition, OAuth2ClientCredentialsDefinition, OAuth2Definition } from '../connectors/schema.js';
import { renderString } from '../templates/request-template.js';
import { providerBaseUrl } from '../provider/request-builder.js';
import { OAUTH_KEYS } from '../connectors/settings-keys.js';
import type { OAuth2Client, OAuth2Endpoints } from './oauth2.js';
import type { Consumer } from './oauth1.js';

/**
 * An instance's OAuth settings, read from its configuration with Cloud Elements' key names
 * (connectors/settings-keys.ts), and a connector's OAuth URLs rendered for it (`oauth.base.url`
 * moves them to another origin).
 */
export type OAuthDefinition = OAuth2Definition | OAuth2ClientCredentialsDefinition | OAuth1Definition;

export function isOAuth(auth: AuthDefinition | undefined): auth is OAuthDefinition {
  return auth?.type === 'oauth2' || auth?.type === 'oauth2-client-credentials' || auth?.type === 'oauth1';
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);

/**
 * A connector URL template rendered with the instance's values; `oauth.base.url` replaces its
 * origin. A template that is a path (`/oauth/access_token`) is on the API's host: it resolves
 * against the instance's API base (`base.url`, else the connector's `baseUrl`), so a provider
 * whose OAuth lives on each account's own site (Desk) needs no second address.
 */
export function oauthUrl(template: string, configuration: Record<string, unknown>, apiBaseUrl?: string): string {
  const scope = { iparam: configuration, context: {} };
  let rendered = renderString(template, scope);
  if (rendered.startsWith('/')) rendered = new URL(rendered, providerBaseUrl(apiBaseUrl, scope)).toString();
  return withOAuthOrigin(rendered, configuration);
}

/** `oauth.base.url`, when set, replaces the origin of one of the provider's OAuth URLs. */
export function withOAuthOrigin(url: string, configuration: Record<string, unknown>): string {
  const base = text(configuration[OAUTH_KEYS.baseUrl]);
  if (!base) return url;
  const u = new URL(url);
  return `${base.replace(/\/+$/, '')}${u.pathname}${u.search}`;
}

export function oauth2Client(auth: OAuth2Definition | OAuth2ClientCredentialsDefinition, configuration: Record<string, unknown>): OAuth2Client {
  const scope = text(configuration[OAUTH_KEYS.scope]) ?? (auth.scopes?.length ? auth.scopes.join(auth.scopeSeparator ?? ' ') : undefined);
  return {
    clientId: text(configuration[OAUTH_KEYS.apiKey]) ?? '',
    clientSecret: text(configuration[OAUTH_KEYS.apiSecret]) ?? '',
    redirectUri: text(configuration[OAUTH_KEYS.callbackUrl]),
    scope,
  };
}

export function oauth2Endpoints(auth: OAuth2Definition | OAuth2ClientCredentialsDefinition, configuration: Record<string, unknown>): OAuth2Endpoints {
  const render = (params?: Record<string, string>) =>
    params && Object.fromEntries(Object.entries(params).map(([k, v]) => [k, renderString(v, { iparam: configuration, context: {} })]));
  return {
    authorizationUrl: auth.type === 'oauth2' ? oauthUrl(auth.authorizationUrl, configuration) : undefined,
    tokenUrl: oauthUrl(auth.tokenUrl, configuration),
    clientAuth: auth.clientAuth,
    tokenParams: render(auth.tokenParams),
  };
}

export function oauth1Consumer(configuration: Record<string, unknown>): Consumer {
  return { key: text(configuration[OAUTH_KEYS.apiKey]) ?? '', secret: text(configuration[OAUTH_KEYS.apiSecret]) ?? '' };
}
