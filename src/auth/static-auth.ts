import type { AuthDefinition } from '../connectors/schema.js';
import { renderString, type TemplateScope } from '../templates/request-template.js';
import type { ProviderRequest } from '../provider/http-client.js';

export type StaticAuth = Extract<AuthDefinition, { type: 'none' | 'basic' | 'bearer' | 'header' | 'query' }>;

/**
 * Credentials that are configuration values (API keys, basic auth), added to a request just before
 * it is sent. A `query` key is the one secret that enters a URL: only the sent URL carries it, never
 * the URL that is logged or stored (that is the request as built, before this step).
 */
export function withStaticAuth(request: ProviderRequest, auth: StaticAuth, scope: TemplateScope): ProviderRequest {
  if (auth.type === 'none') return request;
  const headers = { ...request.headers };
  if (auth.type === 'basic') {
    const user = renderString(auth.username, scope);
    const pass = renderString(auth.password, scope);
    headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  } else if (auth.type === 'bearer') {
    headers.authorization = `Bearer ${renderString(auth.token, scope)}`;
  } else if (auth.type === 'header') {
    headers[auth.name.toLowerCase()] = renderString(auth.value, scope);
  } else {
    const url = new URL(request.url);
    url.searchParams.set(auth.name, renderString(auth.value, scope));
    return { ...request, url: url.toString() };
  }
  return { ...request, headers };
}
