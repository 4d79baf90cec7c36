import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { OpenAPIBackend, type Document } from 'openapi-backend';
import addFormats from 'ajv-formats';
import qs from 'qs';
import type { RecordedRequest } from '../../sandbox/provider-server.js';

/**
 * Checks requests against a provider's own published OpenAPI description, with openapi-backend's
 * request validator (ajv underneath, formats on). Emulators run every request they receive through
 * it and refuse an invalid one: a request pollgate builds wrongly fails the test, whatever the
 * emulator itself would have accepted.
 */
export interface OpenApiVerdict {
  operationId?: string;
  errors: string[];
}

const loaded = new Map<string, Promise<OpenAPIBackend>>();

/**
 * The description in an installed npm package (e.g. `@octokit/openapi/generated/api.github.com.json`)
 * or a vendored file (an absolute path), loaded once per process.
 */
export function openApiFromPackage(file: string): Promise<OpenAPIBackend> {
  let api = loaded.get(file);
  if (!api) {
    api = (async () => {
      const definition = JSON.parse(readFileSync(createRequire(import.meta.url).resolve(file), 'utf8')) as Document;
      // quick: the description is the provider's own and trusted; validators compile on first use.
      const backend = new OpenAPIBackend({ definition, quick: true, strict: false, customizeAjv: (ajv) => (addFormats.default(ajv), ajv) });
      await backend.init();
      return backend;
    })();
    loaded.set(file, api);
  }
  return api;
}

/**
 * Validates one recorded request; `pathPrefix` is stripped first (a description's paths start after
 * the API base). `brackets`: the query and a form body use bracket syntax for objects and arrays
 * (`created[gte]=1`, `types[0]=a`: Stripe's deepObject parameters), read back with qs first.
 */
export function validateRequest(api: OpenAPIBackend, req: RecordedRequest, pathPrefix = '', encoding: 'plain' | 'brackets' = 'plain'): OpenApiVerdict {
  const path = pathPrefix && req.path.startsWith(pathPrefix) ? req.path.slice(pathPrefix.length) || '/' : req.path;
  // openapi-backend types a query as flat strings, but validates nested values (deepObject) as given.
  const query = (encoding === 'brackets' ? qs.parse(new URLSearchParams(req.query).toString(), BRACKETS) : req.query) as Record<string, string | string[]>;
  const request = { method: req.method.toLowerCase(), path, query, headers: req.headers as Record<string, string | string[]>, body: parseBody(req, encoding) };
  const operation = api.matchOperation(request);
  if (!operation) return { errors: [`${req.method} ${path} is not an operation of the description`] };
  const result = api.validateRequest(request, operation);
  const errors = (result.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params ? ` ${shortParams(e.params)}` : ''}`);
  return { operationId: operation.operationId, errors };
}

/** qs turns an index above 20 into an object key by default; Stripe's lists run longer. */
const BRACKETS = { arrayLimit: 1000 };

function parseBody(req: RecordedRequest, encoding: 'plain' | 'brackets'): unknown {
  if (!req.body) return undefined;
  const type = String(req.headers['content-type'] ?? '');
  if (type.includes('json')) return JSON.parse(req.body);
  if (encoding === 'brackets' && type.startsWith('application/x-www-form-urlencoded')) return qs.parse(req.body, BRACKETS);
  return req.body;
}

/** An enum of hundreds of values (Stripe's event names) is named by its size, not printed. */
function shortParams(params: Record<string, unknown>): string {
  const allowed = params.allowedValues;
  return JSON.stringify(Array.isArray(allowed) && allowed.length > 10 ? { ...params, allowedValues: `${allowed.length} values` } : params);
}
