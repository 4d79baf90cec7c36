import { DefinitionError, ValidationError } from '../errors.js';
import { mayHoldTags, replaceTags, strayTagSyntax, tagExpressions } from '../lib/template-tags.js';

/**
 * Freshworks-style request templates: `<%= iparam.x %>` (instance configuration),
 * `<%= context.x.y %>` (the caller's context), `<%= encode(iparam.x) %>` (base64, as Freshworks
 * does for basic auth) and `<%= access_token %>`. Rendering never evaluates code: a tag is one of
 * those forms or the template is refused at load.
 */
export type TemplateScope = { iparam: Record<string, unknown>; context: Record<string, unknown>; access_token?: string };
export type RequestSchema = {
  method?: string;
  protocol?: 'https' | 'http';
  host?: string;
  path?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: unknown;
};
export type RequestOptions = { maxAttempts?: number; retryDelay?: number; timeout?: number; isOAuth?: boolean };
export type RequestTemplate = { schema: RequestSchema; options?: RequestOptions };
export type TemplateRef = { root: 'iparam' | 'context' | 'access_token'; path: string; encoded: boolean };

const REF = /^(?:(encode)\(\s*(.+?)\s*\)|(.+))$/;
const PATH = /^(iparam|context)\.([A-Za-z0-9_$.-]+)$|^(access_token)$/;

function parseTag(expr: string): TemplateRef {
  const m = REF.exec(expr.trim());
  const inner = (m?.[2] ?? m?.[3] ?? '').trim();
  const p = PATH.exec(inner);
  if (!m || !p) throw new DefinitionError(`unsupported template tag "<%= ${expr} %>": use iparam.x, context.x, encode(…) or access_token`);
  return p[3] ? { root: 'access_token', path: '', encoded: Boolean(m[1]) } : { root: p[1] as 'iparam' | 'context', path: p[2], encoded: Boolean(m[1]) };
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

function tagValue(ref: TemplateRef, scope: TemplateScope): string {
  let v: unknown;
  if (ref.root === 'access_token') v = scope.access_token;
  else v = ref.root === 'iparam' ? (Object.hasOwn(scope.iparam, ref.path) ? scope.iparam[ref.path] : lookup(scope.iparam, ref.path)) : lookup(scope.context, ref.path);
  if (v === undefined || v === null) {
    // Required configuration is checked when the instance is created, so a missing iparam is an
    // optional field left empty: it renders as ''. A missing context value is the caller's error.
    if (ref.root === 'iparam') return '';
    const what = ref.root === 'context' ? `missing context value "${ref.path}"` : 'missing access token';
    throw new ValidationError(what, [{ field: ref.root === 'context' ? `context.${ref.path}` : 'access_token' }]);
  }
  const text = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return ref.encoded ? Buffer.from(text).toString('base64') : text;
}

export function renderString(text: string, scope: TemplateScope, opts: { urlEncode?: boolean } = {}): string {
  if (!mayHoldTags(text)) return text;
  return replaceTags(text, (expr) => {
    const value = tagValue(parseTag(expr), scope);
    return opts.urlEncode ? encodeURIComponent(value) : value;
  });
}

export function renderDeep(value: unknown, scope: TemplateScope, opts: { urlEncode?: boolean } = {}): unknown {
  if (typeof value === 'string') return renderString(value, scope, opts);
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

/**
 * Checks one template at load time; the error names connector, template and field, and its details
 * hold `{field: "/requests/<name>/schema/path", message}`. Secret configuration values may be
 * substituted into headers and bodies (GitHub-style webhook registration sends the signing secret
 * in the body), never into a URL (host, path, query): URLs end up in logs, proxies and histories.
 */
export function validateRequestTemplate(connectorKey: string, name: string, tpl: RequestTemplate, secretFields: ReadonlySet<string>): void {
  const fail = (path: string[], message: string): never => {
    throw new DefinitionError(`connector "${connectorKey}", template "${name}", field "${path.join('.')}": ${message}`, [
      { field: `/requests/${name}/${path.join('/')}`, message },
    ]);
  };
  const s = tpl?.schema;
  if (!s || typeof s !== 'object') return fail(['schema'], 'is required');
  if (s.method !== undefined && !METHODS.includes(String(s.method).toUpperCase())) fail(['schema', 'method'], `must be one of ${METHODS.join(', ')}`);
  if (s.protocol !== undefined && s.protocol !== 'https' && s.protocol !== 'http') fail(['schema', 'protocol'], 'must be https or http');
  const o = tpl.options ?? {};
  if (o.maxAttempts !== undefined && (!Number.isInteger(o.maxAttempts) || o.maxAttempts < 1 || o.maxAttempts > 5)) fail(['options', 'maxAttempts'], 'must be an integer from 1 to 5');
  if (o.retryDelay !== undefined && (typeof o.retryDelay !== 'number' || o.retryDelay < 0 || o.retryDelay > 1500)) fail(['options', 'retryDelay'], 'must be 0 to 1500 milliseconds');
  // Milliseconds, as Freshworks' request method takes them: 5 to 10 seconds.
  if (o.timeout !== undefined && (typeof o.timeout !== 'number' || o.timeout < 5000 || o.timeout > 10000)) fail(['options', 'timeout'], 'must be 5000 to 10000 milliseconds');

  const texts: Array<[string[], string]> = [];
  for (const part of ['host', 'path', 'query', 'headers', 'body'] as const) strings(s[part], ['schema', part], texts);
  for (const [path, text] of texts) {
    let refs: TemplateRef[] = [];
    try {
      refs = listTemplateRefs(text);
    } catch (err) {
      fail(path, (err as Error).message);
    }
    for (const ref of refs) {
      if (ref.root === 'iparam' && secretFields.has(ref.path) && URL_PARTS.has(path[1])) {
        fail(path, `secret iparam "${ref.path}" may not be substituted into a URL; put it in a header`);
      }
    }
  }
}
