import { readFileSync } from 'node:fs';
import type { RecordedRequest } from '../../../sandbox/provider-server.js';

/**
 * Checks requests against Google's discovery document for Calendar v3 (the vendored subset in
 * discovery-subset.json, source and revision in its `_subset`). A discovery document is not
 * OpenAPI: each method names its HTTP method, a path template under `basePath`, and parameters
 * with a location (path or query), a type (string, integer, boolean), an optional enum, format,
 * minimum/maximum and `required`; a method with `request` takes a body of that schema. This reads
 * exactly those, so a request with an unknown parameter, a value of the wrong type or outside its
 * enum, a missing required one, or a body field the schema lacks is refused.
 */
interface DiscoveryParameter {
  location: 'path' | 'query';
  type: 'string' | 'integer' | 'boolean';
  required?: boolean;
  enum?: string[];
  format?: string;
  minimum?: string;
  maximum?: string;
  repeated?: boolean;
}

interface DiscoveryMethod {
  id: string;
  httpMethod: string;
  path: string;
  parameters?: Record<string, DiscoveryParameter>;
  request?: { $ref: string };
}

interface DiscoverySchema {
  type: string;
  properties?: Record<string, { type?: string; format?: string; additionalProperties?: { type: string } }>;
}

interface DiscoveryDocument {
  basePath: string;
  revision: string;
  parameters: Record<string, DiscoveryParameter>;
  resources: Record<string, { methods: Record<string, DiscoveryMethod> }>;
  schemas: Record<string, DiscoverySchema>;
}

export interface DiscoveryVerdict {
  methodId?: string;
  errors: string[];
}

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

export class DiscoveryValidator {
  private readonly methods: Array<{ method: DiscoveryMethod; pattern: RegExp; names: string[] }>;

  constructor(readonly doc: DiscoveryDocument) {
    this.methods = Object.values(doc.resources).flatMap((r) =>
      Object.values(r.methods).map((method) => {
        const names: string[] = [];
        const source = (doc.basePath + method.path)
          .split(/(\{[^}]+\})/)
          .map((part) => (part.startsWith('{') ? (names.push(part.slice(1, -1)), '([^/]+)') : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
          .join('');
        return { method, pattern: new RegExp(`^${source}$`), names };
      }),
    );
  }

  static load(file = new URL('./discovery-subset.json', import.meta.url)): DiscoveryValidator {
    return new DiscoveryValidator(JSON.parse(readFileSync(file, 'utf8')) as DiscoveryDocument);
  }

  validate(req: Pick<RecordedRequest, 'method' | 'path' | 'query' | 'body'>): DiscoveryVerdict {
    let found: { method: DiscoveryMethod; values: Record<string, string> } | undefined;
    for (const m of this.methods) {
      const match = m.method.httpMethod === req.method.toUpperCase() ? m.pattern.exec(req.path) : null;
      if (match) found = { method: m.method, values: Object.fromEntries(m.names.map((n, i) => [n, decodeURIComponent(match[i + 1])])) };
    }
    if (!found) return { errors: [`${req.method} ${req.path} is not a method of the discovery document`] };
    const { method, values } = found;
    const errors: string[] = [];
    const params = { ...this.doc.parameters, ...method.parameters };
    for (const [name, value] of Object.entries(req.query)) {
      const p = params[name];
      if (p?.location === 'query') errors.push(...valueProblems(name, value, p));
      else errors.push(`query parameter ${name} is not a parameter of ${method.id}`);
    }
    for (const [name, p] of Object.entries(params)) {
      if (!p.required) continue;
      const value = p.location === 'path' ? values[name] : req.query[name];
      if (value === undefined || value === '') errors.push(`${p.location} parameter ${name} is required`);
    }
    for (const [name, value] of Object.entries(values)) {
      const p = params[name];
      if (p) errors.push(...valueProblems(name, value, p));
    }
    if (method.request) errors.push(...this.bodyProblems(method.request.$ref, req.body));
    else if (req.body) errors.push(`${method.id} takes no body`);
    return { methodId: method.id, errors };
  }

  private bodyProblems(ref: string, body: string): string[] {
    const schema = this.doc.schemas[ref];
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      return [`the body is not JSON (a ${ref})`];
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`the body is not an object (a ${ref})`];
    const errors: string[] = [];
    for (const [key, v] of Object.entries(value)) {
      const property = schema.properties?.[key];
      if (!property) errors.push(`body field ${key} is not a property of ${ref}`);
      else if (property.type === 'string' && typeof v !== 'string')
        errors.push(`body field ${key} must be a string${property.format ? ` (${property.format})` : ''}`);
      else if (property.type === 'string' && property.format === 'int64' && !/^-?\d+$/.test(String(v)))
        errors.push(`body field ${key} must be an int64 string`);
      else if (property.type === 'boolean' && typeof v !== 'boolean') errors.push(`body field ${key} must be a boolean`);
      else if (property.type === 'object' && (typeof v !== 'object' || v === null)) errors.push(`body field ${key} must be an object`);
    }
    return errors;
  }
}

function valueProblems(name: string, value: string, p: DiscoveryParameter): string[] {
  if (p.type === 'boolean' && value !== 'true' && value !== 'false') return [`${name} must be true or false, not "${value}"`];
  if (p.type === 'integer') {
    if (!/^-?\d+$/.test(value)) return [`${name} must be an integer, not "${value}"`];
    if (p.minimum !== undefined && Number(value) < Number(p.minimum)) return [`${name} must be at least ${p.minimum}`];
    if (p.maximum !== undefined && Number(value) > Number(p.maximum)) return [`${name} must be at most ${p.maximum}`];
  }
  if (p.enum && !p.enum.includes(value)) return [`${name} must be one of ${p.enum.join(', ')}, not "${value}"`];
  if (p.format === 'date-time' && !RFC3339.test(value)) return [`${name} must be an RFC 3339 date-time, not "${value}"`];
  return [];
}
