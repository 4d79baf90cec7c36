import { isIP } from 'node:net';
import { DefinitionError, ValidationError } from '../errors.js';
import { mayHoldTags, replaceTags, strayTagSyntax, tagExpressions } from '../lib/template-tags.js';
import { isSecretKey } from '../secrets/redact.js';

/**
 * Freshworks-style request templates: `<%= iparam.x %>` (instance configuration),
 * `<%= context.x.y %>` (the caller's context), `<%= encode(iparam.x) %>` (base64, as Freshworks
 * does for basic auth), `<%= number(context.x) %>` (a body value that is this tag alone becomes a
 * JSON number: a provider whose ids are numbers) and `<%= access_token %>`. Rendering never evaluates code: a tag is one of
 * those forms or the template is refused at load.
 */
export type TemplateScope = { iparam: Record<string, unknown>; context: Record<string, unknown>; access_token?: string };
export type RequestSchema = {
  method?: string;
  /** https (default) or http, in any case. */
  protocol?: string;
  host?: string;
  path?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: unknown;
};
export type RequestOptions = { maxAttempts?: number; retryDelay?: number; timeout?: number; isOAuth?: boolean };
/**
 * `secretsInBody` lists the secret configuration fields this template may put in its body: a
 * webhook registration that must send the provider its signing secret says so explicitly.
 */
export type RequestTemplate = { schema: RequestSchema; options?: RequestOptions; secretsInBody?: string[] };
export type TemplateRef = { root: 'iparam' | 'context' | 'access_token'; path: string; encoded: boolean; number?: boolean };

const REF = /^(?:(encode|number)\(\s*(.+?)\s*\)|(.+))$/;
const PATH = /^(iparam|context)\.([A-Za-z0-9_$.-]+)$|^(access_token)$/;

function parseTag(expr: string): TemplateRef {
  const m = REF.exec(expr.trim());
  const inner = (m?.[2] ?? m?.[3] ?? '').trim();
  const p = PATH.exec(inner);
  if (!m || !p) throw new DefinitionError(`unsupported template tag "<%= ${expr} %>": use iparam.x, context.x, encode(…), number(…) or access_token`);
  const fn = { encoded: m[1] === 'encode', ...(m[1] === 'number' ? { number: true } : {}) };
  return p[3] ? { root: 'access_token', path: '', ...fn } : { root: p[1] as 'iparam' | 'context', path: p[2], ...fn };
}

/** The references of every tag in `text`; throws DefinitionError for a tag of another form. */
export function listTemplateRefs(text: string): TemplateRef[] {
  if (!mayHoldTags(text)) return [];
  const refs = tagExpressions(text).map(parseTag);
  // `<% code %>`, `<%- x %>` or an unclosed `<%=` would otherwise be sent literally: refuse them.
  const stray = strayTagSyntax(text);
  if (stray !== undefined) throw new DefinitionError(`unsupported template syntax "${stray}": only <%= … %> tags are substituted`);
  return refs;
}

/** A dotted path over own properties only: `context.constructor` or `__proto__` find nothing. */
function lookup(root: Record<string, unknown>, path: string): unknown {
  let v: unknown = root;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** An iparam's value: the configuration key itself (`desk.site`), else a dotted path into a value. */
export function iparamValue(iparam: Record<string, unknown>, path: string): unknown {
  return Object.hasOwn(iparam, path) ? iparam[path] : lookup(iparam, path);
}

function tagValue(ref: TemplateRef, scope: TemplateScope): string {
  let v: unknown;
  if (ref.root === 'access_token') v = scope.access_token;
  else v = ref.root === 'iparam' ? iparamValue(scope.iparam, ref.path) : lookup(scope.context, ref.path);
  if (v === undefined || v === null) {
    // Required configuration is checked when the instance is created, so a missing iparam is an
    // optional field left empty: it renders as ''. A missing context value is the caller's error.
    if (ref.root === 'iparam') return '';
    const what = ref.root === 'context' ? `missing context value "${ref.path}"` : 'missing access token';
    throw new ValidationError(what, [{ field: ref.root === 'context' ? `context.${ref.path}` : 'access_token' }]);
  }
  const text = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  if (ref.number && !/^-?\d+(\.\d+)?$/.test(text))
    throw new ValidationError(`number(${ref.root}.${ref.path}) is not a number: "${text.slice(0, 40)}"`, [{ field: `${ref.root}.${ref.path}` }]);
  return ref.encoded ? Buffer.from(text).toString('base64') : text;
}

export function renderString(text: string, scope: TemplateScope, opts: { urlEncode?: boolean } = {}): string {
  if (!mayHoldTags(text)) return text;
  return replaceTags(text, (expr) => {
    const value = tagValue(parseTag(expr), scope);
    if (!opts.urlEncode) return value;
    // In a path, "." and ".." would move the request to another resource (URLs resolve them).
    if (value === '.' || value === '..')
      throw new ValidationError(`"${value}" may not be substituted into a URL path (${expr.trim()})`, [{ field: expr.trim(), value }]);
    return encodeURIComponent(value);
  });
}

/** A string that is one `number(…)` tag and nothing else. */
const NUMBER_TAG = /^<%=\s*number\([^%]*\)\s*%>$/;

export function renderDeep(value: unknown, scope: TemplateScope, opts: { urlEncode?: boolean } = {}): unknown {
  if (typeof value === 'string') return NUMBER_TAG.test(value) ? Number(renderString(value, scope, opts)) : renderString(value, scope, opts);
  if (Array.isArray(value)) return value.map((v) => renderDeep(v, scope, opts));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderDeep(v, scope, opts)]));
  return value;
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const URL_PARTS = new Set(['host', 'path', 'query']);

/** Every string inside a value, with the path of keys that leads to it. */
function strings(value: unknown, path: string[], out: Array<[string[], string]>): void {
  if (typeof value === 'string') out.push([path, value]);
  else if (Array.isArray(value)) value.forEach((v, i) => strings(v, [...path, String(i)], out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) strings(v, [...path, k], out);
}

// A DNS name of letter-digit-hyphen labels with an optional port; tags stand for one label each when checked.
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOST = new RegExp(`^${LABEL}(?:\\.${LABEL})*(?::\\d{1,5})?$`);
// What one value substituted into a host may be: labels, never ":", "/", "?", "@" or "#".
const HOST_VALUE = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const NOT_A_NAME = 'must be a host name only, e.g. "api.example.com": no scheme (set "protocol"), path (use "path") or trailing slash';
const IP_HOST = 'must be a domain name (FQDN), not an IP address';

/** Whether a host (maybe with a port) is an IP address, in any form URLs read as one (127.1, 2130706433, 0x7f.1, [::1]). */
function isIpHost(host: string): boolean {
  let name: string;
  try {
    name = new URL(`http://${host}`).hostname;
  } catch {
    return false;
  }
  return isIP(name.replace(/^\[|\]$/g, '')) !== 0;
}

/** Whether a host is read by URLs as written ("x.1" is not: a numeric last label reads as a broken IPv4). */
function parsesAsHost(host: string): boolean {
  const name = host.replace(/:\d+$/, '').toLowerCase();
  try {
    return new URL(`http://${name}`).hostname === name;
  } catch {
    return false;
  }
}

/**
 * Renders a template's `host`. Its tags are non-secret iparams (checked at load); each value must
 * be host-name labels — a value cannot add a port, path, query or user — and the result a domain
 * name, not an IP address. A ValidationError names the configuration key or `schema.host`.
 */
export function renderHost(host: string, scope: TemplateScope): string {
  const rendered = !mayHoldTags(host)
    ? host
    : replaceTags(host, (expr) => {
        const ref = parseTag(expr);
        const value = ref.root === 'iparam' && !ref.encoded ? iparamValue(scope.iparam, ref.path) : undefined;
        const text = typeof value === 'string' || typeof value === 'number' ? String(value) : '';
        if (!HOST_VALUE.test(text)) {
          const field = ref.root === 'iparam' ? `configuration.${ref.path}` : 'schema.host';
          const why = text === '' ? 'is not set' : 'may hold only letters, digits, hyphens and dots';
          throw new ValidationError(`${field} ${why}: it is part of the request's host`, [{ field }]);
        }
        return text;
      });
  if (isIpHost(rendered)) throw new ValidationError(`the request's host "${rendered}" ${IP_HOST}`, [{ field: 'schema.host' }]);
  if (!HOST.test(rendered) || !parsesAsHost(rendered)) throw new ValidationError(`the request's host "${rendered}" ${NOT_A_NAME}`, [{ field: 'schema.host' }]);
  return rendered;
}

/** Whether `path` (an iparam reference, maybe dotted into a value) names one of `declared`. */
function isDeclared(path: string, declared: ReadonlySet<string>): boolean {
  if (declared.has(path)) return true;
  for (let dot = path.lastIndexOf('.'); dot > 0; dot = path.lastIndexOf('.', dot - 1)) if (declared.has(path.slice(0, dot))) return true;
  return false;
}

/** The problem with an iparam name the connector does not declare, or null. */
export function undeclaredIparam(ref: TemplateRef, declared: ReadonlySet<string> | undefined): string | null {
  if (ref.root !== 'iparam' || !declared || isDeclared(ref.path, declared)) return null;
  return `iparam "${ref.path}" is not a configuration field of this connector; declare it under "configuration" or fix the name`;
}

/**
 * Checks one template at load time, as Freshworks' request method does; the error names connector,
 * template and field, and its details hold `{field: "/requests/<name>/schema/path", message}`:
 * - secret configuration values go in headers only: never into a URL (host, path, query — URLs end
 *   up in logs, proxies and histories), nor into a body unless the template lists the field in
 *   `secretsInBody` (a webhook registration that must send its signing secret);
 * - `<%= access_token %>` only in headers, and only with `options.isOAuth: true`;
 * - every iparam must be one of `declared` (the connector's fields and the gateway's own keys);
 * - `host` is a domain name, not an IP address: no scheme, path or trailing slash; its tags are
 *   non-secret iparams only — a `context` value would let the caller choose where the request, and
 *   the credentials in its headers, go.
 */
export function validateRequestTemplate(
  connectorKey: string,
  name: string,
  tpl: RequestTemplate,
  secretFields: ReadonlySet<string>,
  declared?: ReadonlySet<string>,
): void {
  const fail = (path: string[], message: string): never => {
    throw new DefinitionError(`connector "${connectorKey}", template "${name}", field "${path.join('.')}": ${message}`, [
      { field: `/requests/${name}/${path.join('/')}`, message },
    ]);
  };
  const s = tpl?.schema;
  if (!s || typeof s !== 'object') return fail(['schema'], 'is required');
  if (s.method !== undefined && !METHODS.includes(String(s.method).toUpperCase())) fail(['schema', 'method'], `must be one of ${METHODS.join(', ')}`);
  if (s.protocol !== undefined && !['https', 'http'].includes(String(s.protocol).toLowerCase())) fail(['schema', 'protocol'], 'must be https or http');
  if (typeof s.host === 'string') {
    const shape = s.host.replace(/<%=[\s\S]*?%>/g, 'x');
    if (isIpHost(shape)) fail(['schema', 'host'], `"${s.host}" ${IP_HOST}, e.g. "api.example.com"`);
    if (!HOST.test(shape) || !parsesAsHost(shape)) fail(['schema', 'host'], `"${s.host}" ${NOT_A_NAME}`);
  }
  const o = tpl.options ?? {};
  if (o.maxAttempts !== undefined && (!Number.isInteger(o.maxAttempts) || o.maxAttempts < 1 || o.maxAttempts > 5))
    fail(['options', 'maxAttempts'], 'must be an integer from 1 to 5');
  if (o.retryDelay !== undefined && (typeof o.retryDelay !== 'number' || o.retryDelay < 0 || o.retryDelay > 1500))
    fail(['options', 'retryDelay'], 'must be 0 to 1500 milliseconds');
  // Milliseconds, as Freshworks' request method takes them: 5 to 10 seconds.
  if (o.timeout !== undefined && (typeof o.timeout !== 'number' || o.timeout < 5000 || o.timeout > 10000))
    fail(['options', 'timeout'], 'must be 5000 to 10000 milliseconds');
  const bodySecrets = new Set(tpl.secretsInBody ?? []);
  (tpl.secretsInBody ?? []).forEach((field, i) => {
    if (!secretFields.has(field)) fail(['secretsInBody', String(i)], `"${field}" is not a secret configuration field of this connector`);
  });

  const texts: Array<[string[], string]> = [];
  for (const part of ['host', 'path', 'query', 'headers', 'body'] as const) strings(s[part], ['schema', part], texts);
  let sendsToken = false;
  for (const [path, text] of texts) {
    let refs: TemplateRef[] = [];
    try {
      refs = listTemplateRefs(text);
    } catch (err) {
      fail(path, (err as Error).message);
    }
    const part = path[1];
    for (const ref of refs) {
      const undeclared = undeclaredIparam(ref, declared);
      if (undeclared) fail(path, undeclared);
      if (ref.root === 'access_token') {
        sendsToken = true;
        if (part !== 'headers') fail(path, '<%= access_token %> may only be used in headers, e.g. "Authorization": "Bearer <%= access_token %>"');
        if (o.isOAuth !== true) fail(path, '<%= access_token %> is only available to OAuth requests: set "options": {"isOAuth": true}');
      }
      if (part === 'host' && ref.root === 'context')
        fail(path, 'may not use <%= context.x %>: the caller would choose where the request and its credentials go; use a non-secret <%= iparam.x %>');
      if (part === 'host' && ref.encoded) fail(path, 'may not use encode(…): a host is plain host-name labels');
      if (part === 'host' && ref.root === 'iparam' && isSecretKey(ref.path, secretFields))
        fail(path, `secret iparam "${ref.path}" may not be substituted into a URL; put it in a header`);
      if (ref.root !== 'iparam' || !secretFields.has(ref.path)) continue;
      if (URL_PARTS.has(part)) fail(path, `secret iparam "${ref.path}" may not be substituted into a URL; put it in a header`);
      if (part === 'body' && !bodySecrets.has(ref.path)) {
        fail(
          path,
          `secret iparam "${ref.path}" may not be substituted into the body; put it in a header, or list it in "secretsInBody" when the provider must receive it there (e.g. a webhook signing secret)`,
        );
      }
    }
  }
  if (o.isOAuth === true && !sendsToken)
    fail(['options', 'isOAuth'], 'an OAuth request sends the token: add "Authorization": "Bearer <%= access_token %>" to schema.headers');
}
