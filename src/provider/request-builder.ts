import { renderDeep, renderHost, renderString, type RequestOptions, type RequestTemplate, type TemplateScope } from '../templates/request-template.js';
import { checkUrlSyntax } from '../network/ssrf-guard.js';
import type { ProviderRequest } from './http-client.js';
import { serialize } from '../lib/body-format.js';
import { ValidationError } from '../errors.js';
import { BASE_URL_KEY } from '../connectors/settings-keys.js';

/**
 * Builds provider requests from a connector's templates and an instance's values: the base URL
 * (or a template's own host), path and query (values URL-encoded), headers and a JSON body. Auth is
 * not part of it: it is added per attempt when the request is sent (provider/calls.ts).
 * The final URL goes through the SSRF guard's syntax check, so a hostile configuration value cannot
 * turn a URL into another one.
 */
const ANY_NETWORK = { allowLoopback: true, allowPrivate: true };

/** The API base of an instance: its `base.url` setting when set, else the connector's `baseUrl` template. */
export function providerBaseUrl(baseUrl: string | undefined, scope: TemplateScope): string {
  const override = scope.iparam[BASE_URL_KEY];
  if (typeof override === 'string' && override.trim() !== '') return override.trim();
  return renderString(baseUrl ?? '', scope);
}

function joinUrl(base: string, path: string, query: Record<string, string>): string {
  const url = new URL(base.replace(/\/+$/, '') + (path ? (path.startsWith('/') ? path : `/${path}`) : ''));
  for (const [k, v] of Object.entries(query)) url.searchParams.append(k, v);
  return url.toString();
}

function finish(method: string, url: string, headers: Record<string, string>, body: unknown): ProviderRequest {
  // Syntax only: the network policy itself is applied when connecting (guarded lookup).
  checkUrlSyntax(url, ANY_NETWORK, 'provider URL');
  const request: ProviderRequest = { method: method.toUpperCase(), url, headers };
  if (body !== undefined && body !== null && method.toUpperCase() !== 'GET') {
    const contentType = Object.entries(headers).find(([h]) => h.toLowerCase() === 'content-type')?.[1] ?? '';
    if (typeof body === 'string') request.body = body;
    // A template that declares a form content type sends its body object as a form (Stripe).
    else if (/^application\/x-www-form-urlencoded/i.test(contentType) && typeof body === 'object')
      request.body = serialize(body as Record<string, unknown>, 'form');
    else {
      request.body = JSON.stringify(body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
  }
  if (!Object.keys(headers).some((h) => h.toLowerCase() === 'accept')) headers.accept = 'application/json';
  return request;
}

// What Node's HTTP client refuses in a header value: CR, LF, other controls, and anything beyond Latin-1.
const UNSENDABLE_IN_HEADER = /[^\t\x20-\x7e\x80-\xff]/;

/** A value that would end the header (CR, LF) or that no client may send is the caller's 400, naming the header. */
function renderHeaders(headers: Record<string, string> | undefined, scope: TemplateScope): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers ?? {}).map(([k, v]) => {
      const value = renderString(v, scope);
      if (UNSENDABLE_IN_HEADER.test(value))
        throw new ValidationError(`header "${k}" may not contain CR, LF or other control characters, nor characters beyond Latin-1`, [
          { field: `schema.headers.${k}` },
        ]);
      return [k.toLowerCase(), value];
    }),
  );
}

/** `body`, when given (at invocation), replaces the template's `schema.body` and is sent unrendered. */
export function buildTemplateRequest(args: { baseUrl?: string; template: RequestTemplate; scope: TemplateScope; body?: unknown }): {
  request: ProviderRequest;
  options: Required<Pick<RequestOptions, 'maxAttempts' | 'retryDelay' | 'timeout'>>;
  redactedUrl: string;
} {
  const { schema, options = {} } = args.template;
  const base = schema.host
    ? `${(schema.protocol ?? 'https').toLowerCase()}://${renderHost(schema.host, args.scope)}`
    : providerBaseUrl(args.baseUrl, args.scope);
  if (!base) throw new Error('the template has no host and the connector no baseUrl');
  const path = renderString(schema.path ?? '', args.scope, { urlEncode: true });
  const query = Object.fromEntries(Object.entries(schema.query ?? {}).map(([k, v]) => [k, renderString(v, args.scope)]));
  const headers = renderHeaders(schema.headers, args.scope);
  const body = args.body !== undefined ? args.body : schema.body === undefined ? undefined : renderDeep(schema.body, args.scope);
  const request = finish(schema.method ?? 'GET', joinUrl(base, path, query), headers, body);
  return {
    request,
    options: { maxAttempts: options.maxAttempts ?? 1, retryDelay: options.retryDelay ?? 1000, timeout: options.timeout ?? 5000 },
    // Secrets never reach a URL (validation refuses it), so the URL is safe to log as is.
    redactedUrl: request.url,
  };
}

export function buildResourceRequest(args: {
  baseUrl?: string;
  method: string;
  path: string;
  query: Record<string, string>;
  headers?: Record<string, string>;
  body?: unknown;
  scope: TemplateScope;
}): ProviderRequest {
  const base = providerBaseUrl(args.baseUrl, args.scope);
  const path = renderString(args.path, args.scope, { urlEncode: true });
  const query = Object.fromEntries(Object.entries(args.query).map(([k, v]) => [k, renderString(v, args.scope)]));
  const headers = renderHeaders(args.headers, args.scope);
  const body = args.body === undefined ? undefined : renderDeep(args.body, args.scope);
  return finish(args.method, joinUrl(base, path, query), headers, body);
}
