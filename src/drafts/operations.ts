import { type Description, isObject, type JsonObject, pointer } from './description.js';

/**
 * The list operations of a description, read the same way for OpenAPI 3.x and Swagger 2.0:
 * parameters with their schema facts, the success response's schema and headers.
 */

export interface Parameter {
  name: string;
  in: string;
  type: string | undefined;
  format: string | undefined;
  enum: unknown[] | undefined;
  default: unknown;
  maximum: number | undefined;
  description: string;
  required: boolean;
  /** A parameter whose schema is an object (Stripe's `created[gte]` family), deep-object style. */
  properties: string[];
  at: string;
}

export interface ListOperation {
  path: string;
  /** `#/paths/…/get` */
  at: string;
  operation: JsonObject;
  parameters: Parameter[];
  /** The 2xx JSON response's schema, with the pointer it was read from. */
  response: { schema: JsonObject; at: string } | undefined;
  /** Response header names, lower case (`link`). */
  responseHeaders: string[];
  /** The security requirements that apply (the operation's, else the document's). */
  security: Array<Record<string, string[]>>;
}

const JSON_TYPE = /^application\/([\w.+-]*\+)?json\b/i;

function parameterOf(raw: JsonObject, at: string): Parameter | undefined {
  if (typeof raw.name !== 'string' || typeof raw.in !== 'string') return undefined;
  // OpenAPI 3 keeps the type in `schema`; Swagger 2 on the parameter itself.
  const schema = isObject(raw.schema) ? raw.schema : raw;
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  return {
    name: raw.name,
    in: raw.in,
    type: typeof type === 'string' ? type : schema.anyOf || schema.oneOf ? 'anyOf' : undefined,
    format: typeof schema.format === 'string' ? schema.format : undefined,
    enum: Array.isArray(schema.enum) ? schema.enum : undefined,
    default: schema.default,
    maximum: typeof schema.maximum === 'number' ? schema.maximum : undefined,
    description: [raw.description, schema.description].filter((d) => typeof d === 'string').join(' '),
    required: raw.required === true,
    properties: objectProperties(schema),
    at,
  };
}

/** Property names of an object schema, through `anyOf`/`oneOf` branches (Stripe's range filters). */
function objectProperties(schema: JsonObject): string[] {
  const branches = [schema, ...[schema.anyOf, schema.oneOf].flatMap((b) => (Array.isArray(b) ? b.filter(isObject) : []))];
  return [...new Set(branches.flatMap((b) => (isObject(b.properties) ? Object.keys(b.properties) : [])))];
}

function successResponse(op: JsonObject): { response: JsonObject; code: string } | undefined {
  if (!isObject(op.responses)) return undefined;
  const responses = op.responses;
  const code = ['200', '2XX', '2xx', '206'].find((c) => isObject(responses[c]));
  return code ? { response: responses[code] as JsonObject, code } : undefined;
}

function responseSchema(d: Description, response: JsonObject, at: string): ListOperation['response'] {
  if (d.version === '2.0') return isObject(response.schema) ? { schema: response.schema, at: `${at}/schema` } : undefined;
  if (!isObject(response.content)) return undefined;
  const content = response.content;
  const type = Object.keys(content).find((t) => JSON_TYPE.test(t)) ?? Object.keys(content).find((t) => t === '*/*');
  const media = type ? content[type] : undefined;
  if (!type || !isObject(media) || !isObject(media.schema)) return undefined;
  return { schema: media.schema, at: `${at}/content/${type.replaceAll('~', '~0').replaceAll('/', '~1')}/schema` };
}

/** Every GET operation of the description, in document order. */
export function getOperations(d: Description): ListOperation[] {
  const paths = isObject(d.doc.paths) ? d.doc.paths : {};
  const docSecurity = Array.isArray(d.doc.security) ? d.doc.security.filter(isObject) : [];
  const result: ListOperation[] = [];
  for (const [path, item] of Object.entries(paths)) {
    if (!isObject(item) || !isObject(item.get)) continue;
    const op = item.get;
    const at = pointer('paths', path, 'get');
    const byKey = new Map<string, Parameter>();
    const add = (list: unknown, base: string) => {
      if (!Array.isArray(list)) return;
      list.forEach((raw, i) => {
        const p = isObject(raw) ? parameterOf(raw, d.pointerOf(raw) ?? `${base}/parameters/${i}`) : undefined;
        if (p) byKey.set(`${p.in}:${p.name}`, p);
      });
    };
    add(item.parameters, pointer('paths', path));
    add(op.parameters, at);
    const success = successResponse(op);
    const responseAt = success ? `${at}/responses/${success.code}` : at;
    result.push({
      path,
      at,
      operation: op,
      parameters: [...byKey.values()],
      response: success ? responseSchema(d, success.response, responseAt) : undefined,
      responseHeaders: success && isObject(success.response.headers) ? Object.keys(success.response.headers).map((h) => h.toLowerCase()) : [],
      security: Array.isArray(op.security) ? (op.security.filter(isObject) as ListOperation['security']) : (docSecurity as ListOperation['security']),
    });
  }
  return result;
}

/** Properties of an object schema, merged through `allOf` (bounded: descriptions may be cyclic). */
export function propertiesOf(schema: JsonObject, depth = 0): Map<string, JsonObject> {
  const props = new Map<string, JsonObject>();
  if (depth > 8) return props;
  for (const part of Array.isArray(schema.allOf) ? schema.allOf.filter(isObject) : []) {
    for (const [k, v] of propertiesOf(part, depth + 1)) props.set(k, v);
  }
  if (isObject(schema.properties)) {
    for (const [k, v] of Object.entries(schema.properties)) if (isObject(v)) props.set(k, v);
  }
  return props;
}

export function typeOf(schema: JsonObject): string | undefined {
  if (Array.isArray(schema.type)) return schema.type.find((t) => t !== 'null') as string | undefined;
  if (typeof schema.type === 'string') return schema.type;
  if (isObject(schema.items)) return 'array';
  if (isObject(schema.properties) || Array.isArray(schema.allOf)) return 'object';
  return undefined;
}
