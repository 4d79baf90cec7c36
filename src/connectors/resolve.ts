import { DefinitionError } from '../errors.js';
import type { ConnectorDefinition, DatesConfiguration, PaginationDefinition } from './schema.js';

/**
 * Turns a poller object (`url`, `idField`, …) into the provider request the poller sends:
 * `/hubs/<hub>/<resource>?where=<CEQL>` goes through the connector's `resources` and their `where`
 * maps; any other URL is a provider path. `${date:…}` templates are left for the poller to render.
 */
export interface ResolvedPoll {
  method: string;
  path: string;
  query: Record<string, string>;
  headers?: Record<string, string>;
  body?: unknown;
  idField: string;
  recordsPath?: string;
  pagination?: PaginationDefinition;
  deletes: boolean;
  datesConfiguration?: DatesConfiguration;
}

export interface CeqlClause {
  field: string;
  op: '=' | '!=' | '>' | '>=' | '<' | '<=';
  value: string;
}

const CLAUSE = /^\s*([A-Za-z_][\w.]*)\s*(>=|<=|!=|=|>|<)\s*('(?:[^']|'')*'|-?\d+(?:\.\d+)?|true|false|\u0000\d+\u0000)\s*$/;

/** Parses the CEQL subset pollgate understands: `field op value` clauses joined by `and`. */
export function parseCeqlWhere(input: string): CeqlClause[] {
  // Date templates hold quotes of their own (${date:yyyy-MM-dd'T'HH:mm}): set them aside first.
  const templates: string[] = [];
  const where = input.replace(/\$\{[^}]*\}/g, (t) => `\u0000${templates.push(t) - 1}\u0000`);
  const restore = (s: string) => s.replace(/\u0000(\d+)\u0000/g, (_m, i: string) => templates[Number(i)]);
  // Split on " and " outside quotes.
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < where.length; i++) {
    const ch = where[i];
    if (ch === "'") quoted = !quoted;
    if (!quoted && /^\sand\s/i.test(where.slice(i, i + 5))) {
      parts.push(current);
      current = '';
      i += 4;
      continue;
    }
    current += ch;
  }
  parts.push(current);
  return parts.map((part) => {
    const m = CLAUSE.exec(part);
    if (!m) throw new DefinitionError(`CEQL clause "${restore(part).trim()}" is not of the form field op 'value' (ops: = != > >= < <=)`);
    const raw = m[3];
    const value = restore(raw.startsWith("'") ? raw.slice(1, -1).replaceAll("''", "'") : raw);
    return { field: m[1], op: m[2] as CeqlClause['op'], value };
  });
}

function splitUrl(url: string): { path: string; query: URLSearchParams } {
  const q = url.indexOf('?');
  // Parse the query by hand: URLSearchParams would turn the '+' of a date offset into a space.
  const params = new URLSearchParams();
  if (q !== -1) {
    for (const pair of url.slice(q + 1).split('&')) {
      if (!pair) continue;
      const eq = pair.indexOf('=');
      const key = eq === -1 ? pair : pair.slice(0, eq);
      const value = eq === -1 ? '' : pair.slice(eq + 1);
      params.append(safeDecode(key), safeDecode(value));
    }
  }
  return { path: q === -1 ? url : url.slice(0, q), query: params };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function resolvePollerObject(connector: ConnectorDefinition, objectType: string, config: Record<string, unknown>): ResolvedPoll {
  const url = config.url;
  const idField = config.idField;
  if (typeof url !== 'string' || url === '') throw new DefinitionError(`object "${objectType}": url is required`);
  if (typeof idField !== 'string' || idField === '') throw new DefinitionError(`object "${objectType}": idField is required`);
  const own = config as { method?: string; body?: unknown; headers?: Record<string, string>; recordsPath?: string; pagination?: PaginationDefinition; deletes?: boolean; datesConfiguration?: DatesConfiguration };
  const { path, query } = splitUrl(url);
  const hubs = /^\/hubs\/([^/]+)\/([^/?]+)\/?$/.exec(path);

  if (hubs) {
    const [, hub, resourceName] = hubs;
    const resource = connector.resources?.[resourceName];
    if (!resource) throw new DefinitionError(`object "${objectType}": the URL names resource "${resourceName}", which connector "${connector.key}" does not define`);
    if (connector.hub && hub !== connector.hub) throw new DefinitionError(`object "${objectType}": hub "${hub}" is not this connector's hub "${connector.hub}"`);
    const providerQuery: Record<string, string> = {};
    const where = query.get('where');
    if (where) {
      for (const clause of parseCeqlWhere(where)) {
        const mapping = resource.where?.[`${clause.field}${clause.op}`];
        if (!mapping) throw new DefinitionError(`object "${objectType}": the where clause "${clause.field} ${clause.op}" has no mapping in resource "${resourceName}" (add "${clause.field}${clause.op}" to its where map)`);
        providerQuery[mapping.param] = clause.value;
      }
    }
    return {
      method: (own.method ?? resource.method ?? 'GET').toUpperCase(),
      path: resource.path,
      query: providerQuery,
      headers: own.headers ?? resource.headers,
      body: own.body ?? resource.body,
      idField,
      recordsPath: own.recordsPath ?? resource.recordsPath,
      pagination: own.pagination ?? resource.pagination,
      deletes: own.deletes ?? resource.deletes ?? false,
      datesConfiguration: own.datesConfiguration,
    };
  }

  const resource = connector.resources?.[objectType];
  return {
    method: (own.method ?? resource?.method ?? 'GET').toUpperCase(),
    path,
    query: Object.fromEntries(query),
    headers: own.headers ?? resource?.headers,
    body: own.body ?? resource?.body,
    idField,
    recordsPath: own.recordsPath ?? resource?.recordsPath,
    pagination: own.pagination ?? resource?.pagination,
    deletes: own.deletes ?? resource?.deletes ?? false,
    datesConfiguration: own.datesConfiguration,
  };
}
