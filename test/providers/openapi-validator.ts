import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { OpenAPIBackend, type Document } from 'openapi-backend';
import addFormats from 'ajv-formats';
import type { RecordedRequest } from './provider-server.js';

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

/** The description in an installed npm package (e.g. `@octokit/openapi/generated/api.github.com.json`), loaded once per process. */
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

/** Validates one recorded request; `pathPrefix` is stripped first (a description's paths start after the API base). */
export function validateRequest(api: OpenAPIBackend, req: RecordedRequest, pathPrefix = ''): OpenApiVerdict {
  const path = pathPrefix && req.path.startsWith(pathPrefix) ? req.path.slice(pathPrefix.length) || '/' : req.path;
  const request = { method: req.method.toLowerCase(), path, query: req.query, headers: req.headers as Record<string, string | string[]>, body: parseBody(req) };
  const operation = api.matchOperation(request);
  if (!operation) return { errors: [`${req.method} ${path} is not an operation of the description`] };
  const result = api.validateRequest(request, operation);
  const errors = (result.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
  return { operationId: operation.operationId, errors };
}

function parseBody(req: RecordedRequest): unknown {
  if (!req.body) return undefined;
  const type = String(req.headers['content-type'] ?? '');
  if (type.includes('json')) return JSON.parse(req.body);
  return req.body;
}
