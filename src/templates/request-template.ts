import { DefinitionError, ValidationError } from '../errors.js';

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

const TAG = /<%=\s*([\s\S]*?)\s*%>/g;
const REF = /^(?:(encode)\(\s*(.+?)\s*\)|(.+))$/;
const PATH = /^(iparam|context)\.([A-Za-z0-9_$.-]+)$|^(access_token)$/;

function parseTag(expr: string): TemplateRef {
  const m = REF.exec(expr.trim());
  const inner = (m?.[2] ?? m?.[3] ?? '').trim();
  const p = PATH.exec(inner);
  if (!m || !p) throw new DefinitionError(`unsupported template tag "<%= ${expr} %>": use iparam.x, context.x, encode(…) or access_token`);
  return p[3] ? { root: 'access_token', path: '', encoded: Boolean(m[1]) } : { root: p[1] as 'iparam' | 'context', path: p[2], encoded: Boolean(m[1]) };
}

export function listTemplateRefs(text: string): TemplateRef[] {
  return [...text.matchAll(TAG)].map((m) => parseTag(m[1]));
}

function lookup(root: Record<string, unknown>, path: string): unknown {
  let v: unknown = root;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function valueOf(ref: TemplateRef, scope: TemplateScope): string {
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
  if (!text.includes('<%')) return text;
  return text.replace(TAG, (_all, expr: string) => {
    const value = valueOf(parseTag(expr), scope);
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

function strings(value: unknown, field: string, out: Array<[string, string]>): void {
  if (typeof value === 'string') out.push([field, value]);
  else if (Array.isArray(value)) value.forEach((v, i) => strings(v, `${field}[${i}]`, out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) strings(v, `${field}.${k}`, out);
}

/**
 * Checks one template; the error names connector, template and field. Secret configuration values
 * may be substituted into headers and bodies, never into a URL (host, path, query): URLs end up in
 * logs and proxies.
 */
export function validateRequestTemplate(connectorKey: string, name: string, tpl: RequestTemplate, secretFields: ReadonlySet<string>): void {
  const fail = (field: string, message: string) => {
    throw new DefinitionError(`connector "${connectorKey}", template "${name}", field "${field}": ${message}`, [{ field: `requests.${name}.${field}`, message }]);
  };
  const s = tpl.schema;
  if (!s || typeof s !== 'object') fail('schema', 'is required');
  if (s.method !== undefined && !METHODS.includes(String(s.method).toUpperCase())) fail('schema.method', `must be one of ${METHODS.join(', ')}`);
  if (s.protocol !== undefined && s.protocol !== 'https' && s.protocol !== 'http') fail('schema.protocol', 'must be https or http');
  const o = tpl.options ?? {};
  if (o.maxAttempts !== undefined && (!Number.isInteger(o.maxAttempts) || o.maxAttempts < 1 || o.maxAttempts > 5)) fail('options.maxAttempts', 'must be an integer from 1 to 5');
  if (o.retryDelay !== undefined && (typeof o.retryDelay !== 'number' || o.retryDelay < 0 || o.retryDelay > 1500)) fail('options.retryDelay', 'must be 0 to 1500 milliseconds');
  if (o.timeout !== undefined && (typeof o.timeout !== 'number' || o.timeout < 5000 || o.timeout > 10000)) fail('options.timeout', 'must be 5000 to 10000 milliseconds');

  const texts: Array<[string, string]> = [];
  strings(s.host, 'schema.host', texts);
  strings(s.path, 'schema.path', texts);
  strings(s.query, 'schema.query', texts);
  strings(s.body, 'schema.body', texts);
  strings(s.headers, 'schema.headers', texts);
  for (const [field, text] of texts) {
    let refs: TemplateRef[] = [];
    try {
      refs = listTemplateRefs(text);
    } catch (err) {
      fail(field, (err as Error).message);
    }
    for (const ref of refs) {
      const inUrl = /^schema\.(host|path|query)/.test(field);
      if (ref.root === 'iparam' && secretFields.has(ref.path) && inUrl) {
        fail(field, `secret iparam "${ref.path}" may not be substituted into a URL; put it in a header`);
      }
    }
  }
}
