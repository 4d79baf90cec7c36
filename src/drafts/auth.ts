import { type Description, isObject, type JsonObject, pointer } from './description.js';
import type { ListOperation } from './operations.js';
import type { Finding } from './report.js';

/**
 * The connector's auth from the description's security schemes (OpenAPI `components.securitySchemes`,
 * Swagger `securityDefinitions`): API keys, HTTP basic and bearer, OAuth 2.0 authorization-code and
 * client-credentials flows, with the scopes the chosen operations ask for. Several usable schemes
 * become alternatives chosen by which configuration keys an instance sets.
 */

export interface ConfigurationField {
  key: string;
  required: boolean;
  secret?: boolean;
  description: string;
}

export interface AuthDraft {
  auth: JsonObject[];
  configuration: ConfigurationField[];
  findings: Finding[];
  todo: string[];
}

const OAUTH_KEYS: ConfigurationField[] = [
  { key: 'oauth.api.key', required: false, description: "OAuth alternative: your OAuth app's client id; setting it chooses OAuth 2.0" },
  { key: 'oauth.api.secret', required: false, secret: true, description: "OAuth alternative: your OAuth app's client secret" },
  { key: 'oauth.callback.url', required: false, description: 'OAuth alternative: the redirect URL registered with the app' },
];

function schemesOf(d: Description): Array<[string, JsonObject, string]> {
  const components = isObject(d.doc.components) ? d.doc.components : {};
  const [holder, where] =
    d.version === '2.0' ? [d.doc.securityDefinitions, ['securityDefinitions']] : [components.securitySchemes, ['components', 'securitySchemes']];
  if (!isObject(holder)) return [];
  return Object.entries(holder).flatMap(([name, s]) => (isObject(s) ? [[name, s, pointer(...where, name)] as [string, JsonObject, string]] : []));
}

/** Scopes the chosen operations require of one scheme, in first-seen order. */
function scopesFor(scheme: string, ops: ListOperation[]): string[] {
  return [...new Set(ops.flatMap((op) => op.security.flatMap((req) => req[scheme] ?? [])))];
}

function oauthFlow(d: Description, s: JsonObject): { flow: 'code' | 'client'; authorizationUrl?: string; tokenUrl?: string } | undefined {
  if (d.version === '2.0') {
    const tokenUrl = typeof s.tokenUrl === 'string' ? s.tokenUrl : undefined;
    const authorizationUrl = typeof s.authorizationUrl === 'string' ? s.authorizationUrl : undefined;
    if (s.flow === 'accessCode') return { flow: 'code', authorizationUrl, tokenUrl };
    if (s.flow === 'application') return { flow: 'client', tokenUrl };
    return undefined;
  }
  const flows = isObject(s.flows) ? s.flows : {};
  if (isObject(flows.authorizationCode)) {
    const f = flows.authorizationCode;
    return { flow: 'code', authorizationUrl: String(f.authorizationUrl ?? ''), tokenUrl: String(f.tokenUrl ?? '') };
  }
  if (isObject(flows.clientCredentials)) return { flow: 'client', tokenUrl: String(flows.clientCredentials.tokenUrl ?? '') };
  return undefined;
}

export function authOf(d: Description, ops: ListOperation[]): AuthDraft {
  const draft: AuthDraft = { auth: [], configuration: [], findings: [], todo: [] };
  const used = new Set(ops.flatMap((op) => op.security.flatMap((req) => Object.keys(req))));
  const schemes = schemesOf(d).filter(([name]) => used.size === 0 || used.has(name));
  const addKey = (f: ConfigurationField) => {
    if (!draft.configuration.some((c) => c.key === f.key)) draft.configuration.push(f);
  };
  for (const [name, s, at] of schemes) {
    const type = String(s.type ?? '');
    const scheme = String(s.scheme ?? '').toLowerCase();
    if ((type === 'http' && scheme === 'bearer') || (type === 'apiKey' && /^authorization$/i.test(String(s.name)) && s.in === 'header')) {
      draft.auth.push({ when: 'api.key', type: 'bearer', token: '<%= iparam.api.key %>' });
      addKey({ key: 'api.key', required: false, secret: true, description: `Token alternative: sent as a bearer token (${name})` });
    } else if ((type === 'http' && scheme === 'basic') || type === 'basic') {
      draft.auth.push({ when: ['username', 'password'], type: 'basic', username: '<%= iparam.username %>', password: '<%= iparam.password %>' });
      addKey({ key: 'username', required: false, description: `Basic auth alternative: the user name (${name})` });
      addKey({ key: 'password', required: false, secret: true, description: `Basic auth alternative: the password or API token (${name})` });
    } else if (type === 'apiKey' && (s.in === 'header' || s.in === 'query')) {
      draft.auth.push({ when: 'api.key', type: s.in, name: String(s.name), value: '<%= iparam.api.key %>' });
      addKey({ key: 'api.key', required: false, secret: true, description: `API key alternative: sent in the ${s.in} ${String(s.name)} (${name})` });
    } else if (type === 'oauth2') {
      const flow = oauthFlow(d, s);
      if (!flow) {
        draft.todo.push(`OAuth 2.0 scheme "${name}" (${at}) has neither an authorization-code nor a client-credentials flow`);
        continue;
      }
      const scopes = scopesFor(name, ops);
      if (flow.flow === 'code') {
        draft.auth.push({
          when: 'oauth.api.key',
          type: 'oauth2',
          authorizationUrl: flow.authorizationUrl,
          tokenUrl: flow.tokenUrl,
          ...(scopes.length ? { scopes } : {}),
        });
        for (const k of OAUTH_KEYS) addKey(k);
      } else {
        draft.auth.push({ when: 'oauth.api.key', type: 'oauth2-client-credentials', tokenUrl: flow.tokenUrl, ...(scopes.length ? { scopes } : {}) });
        for (const k of OAUTH_KEYS.slice(0, 2)) addKey(k);
      }
      if (!scopes.length) draft.todo.push(`OAuth 2.0 scheme "${name}": the chosen operations name no scopes — check the provider's docs`);
    } else {
      draft.todo.push(`security scheme "${name}" (${at}) of type ${type || 'unknown'} is not one pollgate drafts: write its auth by hand`);
      continue;
    }
    draft.findings.push({ what: 'auth', value: draft.auth.at(-1)?.type, from: at, confidence: 'high' });
  }
  // Two alternatives on the same key (bearer and a query key, say) cannot be told apart: keep the first.
  const seen = new Set<string>();
  draft.auth = draft.auth.filter((a) => {
    const k = JSON.stringify(a.when);
    if (seen.has(k)) {
      draft.todo.push(
        `more than one scheme is set by ${k}: kept the first (${draft.auth.find((b) => JSON.stringify(b.when) === k)?.type}); the others need keys of their own`,
      );
      return false;
    }
    seen.add(k);
    return true;
  });
  if (draft.auth.length === 0) draft.todo.push('no security scheme applies to the chosen operations: the draft calls the API without credentials');
  return draft;
}
