import $RefParser from '@apidevtools/json-schema-ref-parser';
import { parse as parseYaml } from 'yaml';
import { ApiError, ValidationError } from '../errors.js';

/**
 * A provider's API description, read for drafting: OpenAPI 3.0/3.1 or Swagger 2.0, JSON or YAML,
 * with its internal `$ref`s resolved by json-schema-ref-parser. External references are never
 * followed (a description posted to the API must not make the gateway fetch other URLs), so a
 * `$ref` to another file is an error naming it.
 */

/** Larger descriptions are refused before parsing (GitHub's full description is about 13 MB). */
export const MAX_DESCRIPTION_BYTES = 32 * 1024 * 1024;

export type JsonObject = Record<string, unknown>;

export interface Description {
  /** `2.0` for Swagger, else the `openapi` field's major.minor. */
  readonly version: '2.0' | '3.0' | '3.1';
  readonly title: string;
  readonly apiVersion: string;
  /** The document with `$ref`s replaced by what they point to (shared, so cycles are possible). */
  readonly doc: JsonObject;
  /** The base URL the description names (`servers[0]`, or Swagger's `schemes://host/basePath`). */
  readonly baseUrl: string | undefined;
  /** Where a resolved node came from (`#/components/schemas/issue`), when it was a `$ref`. */
  pointerOf(node: unknown): string | undefined;
}

export class DescriptionError extends ApiError {
  constructor(message: string, details: unknown[] = []) {
    super(400, 'INVALID_DESCRIPTION', message, details);
  }
}

export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses text that is JSON or YAML; YAML aliases are bounded so a "billion laughs" file cannot explode. */
export function parseDescriptionText(text: string): unknown {
  if (Buffer.byteLength(text) > MAX_DESCRIPTION_BYTES) {
    throw new ApiError(413, 'PAYLOAD_TOO_LARGE', `the description is larger than the limit of ${MAX_DESCRIPTION_BYTES} bytes`);
  }
  const trimmed = text.trimStart();
  try {
    if (trimmed.startsWith('{')) return JSON.parse(trimmed);
    return parseYaml(text, { maxAliasCount: 1000, uniqueKeys: false });
  } catch (err) {
    throw new ValidationError(`the description is neither JSON nor YAML: ${(err as Error).message}`);
  }
}

function versionOf(doc: JsonObject): Description['version'] {
  if (doc.swagger === '2.0') return '2.0';
  const openapi = typeof doc.openapi === 'string' ? doc.openapi : '';
  if (/^3\.0\.\d+$/.test(openapi)) return '3.0';
  if (/^3\.1\.\d+$/.test(openapi)) return '3.1';
  if (openapi || doc.swagger !== undefined) {
    throw new DescriptionError(`unsupported description version ${JSON.stringify(openapi || doc.swagger)}: OpenAPI 3.0, 3.1 or Swagger 2.0 are read`);
  }
  throw new DescriptionError('not an OpenAPI description: the document has neither an "openapi" nor a "swagger" field');
}

function baseUrlOf(doc: JsonObject, version: Description['version']): string | undefined {
  if (version === '2.0') {
    if (typeof doc.host !== 'string') return undefined;
    const schemes = Array.isArray(doc.schemes) ? doc.schemes : [];
    const scheme = schemes.includes('https') || schemes.length === 0 ? 'https' : String(schemes[0]);
    return `${scheme}://${doc.host}${typeof doc.basePath === 'string' && doc.basePath !== '/' ? doc.basePath : ''}`;
  }
  const [server] = Array.isArray(doc.servers) ? doc.servers : [];
  return isObject(server) && typeof server.url === 'string' ? server.url.replace(/\/$/, '') : undefined;
}

/**
 * Reads a description (already parsed) and resolves its references. Only the parts a draft reads
 * are dereferenced: the request bodies and responses of writing operations are left alone, which
 * keeps a large description's memory down.
 */
export async function readDescription(input: unknown): Promise<Description> {
  if (!isObject(input)) throw new DescriptionError('not an OpenAPI description: the document is not an object');
  const version = versionOf(input);
  if (!isObject(input.paths) && !isObject(input.webhooks)) {
    throw new DescriptionError('the description has no "paths" (nor "webhooks"): nothing to draft');
  }
  const pointers = new WeakMap<object, string>();
  let doc: JsonObject;
  try {
    doc = (await $RefParser.dereference(structuredClone(input) as never, {
      resolve: { external: false },
      dereference: {
        circular: true,
        excludedPathMatcher: (path: string) => /^#\/paths\/[^/]+\/(put|post|patch|delete)\/(requestBody|responses)(\/|$)/.test(path),
        onDereference: (path: string, value: unknown) => {
          if (isObject(value) && !pointers.has(value)) pointers.set(value, path);
        },
      },
    })) as JsonObject;
  } catch (err) {
    const message = (err as Error).message;
    throw new DescriptionError(`a $ref in the description cannot be resolved: ${message}`);
  }
  const info = isObject(doc.info) ? doc.info : {};
  return {
    version,
    title: typeof info.title === 'string' ? info.title : 'API',
    apiVersion: typeof info.version === 'string' ? info.version : '',
    doc,
    baseUrl: baseUrlOf(doc, version),
    pointerOf: (node) => (isObject(node) ? pointers.get(node) : undefined),
  };
}

/** A JSON Pointer into the description (RFC 6901), for the report. */
export function pointer(...parts: Array<string | number>): string {
  return `#/${parts.map((p) => String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`;
}
