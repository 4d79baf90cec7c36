import type { ConnectorDefinition, PaginationDefinition } from '../connectors/schema.js';
import { providerBaseUrl } from '../provider/request-builder.js';
import { renderString } from '../templates/request-template.js';
import { authOf } from '../connectors/auth-alternatives.js';
import { oauthUrl, withOAuthOrigin } from './settings.js';

/**
 * Where an instance's credentials are sent: each place by name, as an origin rendered with the
 * instance's configuration. A change of configuration (PATCH) or of the connector (PUT) that moves
 * one of them would send stored secrets to a host of the changer's choosing, so it must bring the
 * secrets (or a new grant) again, or say so explicitly.
 *
 * `carries`: `all` — the API (base URL, request template hosts, next-page origins) gets every
 * provider-side secret of the configuration and the OAuth access token; `oauth` — the OAuth
 * endpoints (authorize, token, base-URL lookup) get the OAuth client credentials and grant.
 */
export interface SecretDestination {
  name: string;
  origin: string;
  carries: 'all' | 'oauth';
}

/** The origin of a URL; the text itself when it is no URL, `template:…` when it cannot be rendered here. */
function originOf(render: () => string, template: string): string {
  let url: string;
  try {
    url = render();
  } catch {
    // Values known only per call (`context.x` in a request template's host).
    return `template:${template}`;
  }
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

function paginationsOf(connector: ConnectorDefinition): Array<[string, PaginationDefinition | undefined]> {
  return [
    ...Object.entries(connector.resources ?? {}).map(([name, r]): [string, PaginationDefinition | undefined] => [`resources.${name}`, r.pagination]),
    ...(['poller', 'webhook.poller'] as const).flatMap((section) =>
      Object.entries((section === 'poller' ? connector.events?.poller : connector.events?.webhook?.poller) ?? {}).flatMap(
        ([name, o]): Array<[string, PaginationDefinition | undefined]> => [
          [`events.${section}.${name}`, o.pagination],
          [`events.${section}.${name}.deleted`, o.deleted?.pagination],
        ],
      ),
    ),
  ];
}

export function secretDestinations(connector: ConnectorDefinition, configuration: Record<string, unknown>): SecretDestination[] {
  const scope = { iparam: configuration, context: {} };
  const out: SecretDestination[] = [];
  const add = (name: string, carries: SecretDestination['carries'], render: () => string, template: string) =>
    out.push({ name, carries, origin: originOf(render, template) });

  add('baseUrl', 'all', () => providerBaseUrl(connector.baseUrl, scope), connector.baseUrl ?? '');
  for (const [name, template] of Object.entries(connector.requests ?? {})) {
    const { host, protocol } = template.schema;
    if (!host) continue;
    const scheme = (protocol ?? 'https').toLowerCase();
    add(`requests.${name}`, 'all', () => `${scheme}://${renderString(host, scope, { urlEncode: false })}`, `${scheme}://${host}`);
  }
  for (const [name, pagination] of paginationsOf(connector)) {
    if (pagination?.type === 'link' && pagination.allowedOrigins?.length)
      out.push({ name: `${name}.pagination.allowedOrigins`, carries: 'all', origin: [...pagination.allowedOrigins].sort().join(' ') });
  }

  const auth = authOf(connector, configuration);
  const oauth = (name: string, template: string, apiBase?: string) => add(`auth.${name}`, 'oauth', () => oauthUrl(template, configuration, apiBase), template);
  if (auth?.type === 'oauth2' || auth?.type === 'oauth2-client-credentials') oauth('tokenUrl', auth.tokenUrl);
  if (auth?.type === 'oauth2') {
    oauth('authorizationUrl', auth.authorizationUrl);
    const lookup = auth.baseUrlLookup;
    if (lookup) {
      oauth('baseUrlLookup.url', lookup.url);
      const base = () =>
        withOAuthOrigin(renderString(lookup.baseUrl, { iparam: configuration, context: { value: 'value' } }, { urlEncode: true }), configuration);
      add('auth.baseUrlLookup.baseUrl', 'all', base, lookup.baseUrl);
    }
  }
  if (auth?.type === 'oauth1') {
    oauth('requestTokenUrl', auth.requestTokenUrl, connector.baseUrl);
    oauth('authorizeUrl', auth.authorizeUrl, connector.baseUrl);
    oauth('accessTokenUrl', auth.accessTokenUrl, connector.baseUrl);
  }
  return out;
}

/**
 * What of a connector decides where secrets go, as one text: two definitions that give the same
 * send every instance's secrets to the same places (a replacement that changes only paths,
 * headers or mappings need not look at the instances).
 */
export function destinationTemplates(connector: ConnectorDefinition): string {
  return JSON.stringify({
    baseUrl: connector.baseUrl,
    auth: connector.auth,
    hosts: Object.entries(connector.requests ?? {}).map(([name, r]) => [name, r.schema.protocol, r.schema.host]),
    pagination: paginationsOf(connector).map(([name, p]) => [name, p?.type === 'link' ? p.allowedOrigins : undefined]),
  });
}

/** The destinations of `after` that are new or at another origin than in `before` (one that is gone moves nothing). */
export function movedDestinations(before: SecretDestination[], after: SecretDestination[]): SecretDestination[] {
  const was = new Map(before.map((d) => [d.name, d.origin]));
  return after.filter((d) => was.get(d.name) !== d.origin);
}

/** The names of moved destinations, for messages: `baseUrl, auth.tokenUrl`. */
export const destinationNames = (moved: SecretDestination[]): string => moved.map((d) => d.name).join(', ');
