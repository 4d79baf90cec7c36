import addFormats from 'ajv-formats';
import { OpenAPIBackend, type Document } from 'openapi-backend';
import { parse as parseYaml } from 'yaml';
import { EmulatedProvider } from '../../sandbox/provider-server.js';

/**
 * A provider emulator generated from an OpenAPI description: every GET operation with an
 * `x-emulator` extension serves the records a test puts in, filtered and paged as the extension
 * says (`filter: {param, field}` keeps records whose field is at or after the parameter's time;
 * `page`/`size` name the paging parameters; `records` the answer's array field, `.` for a bare
 * array). Every request is first validated against the description with openapi-backend, so a
 * draft that builds a request the description does not allow fails its poll.
 */
export interface Emulator {
  provider: EmulatedProvider;
  /** Records per operationId. */
  records: Map<string, Array<Record<string, unknown>>>;
  refused: string[];
  close(): Promise<void>;
}

type Extension = { records: string; filter?: { param: string; field: string }; page?: string; size?: string };

export async function emulateDescription(text: string, requiredHeader: { name: string; value: string }): Promise<Emulator> {
  const definition = parseYaml(text) as Document;
  const api = new OpenAPIBackend({ definition, quick: true, strict: false, customizeAjv: (ajv) => (addFormats.default(ajv), ajv) });
  await api.init();
  const provider = await EmulatedProvider.start({ requireAuth: { type: 'header', ...requiredHeader } });
  const records = new Map<string, Array<Record<string, unknown>>>();
  const refused: string[] = [];
  provider.inspect = (req) => {
    const request = { method: req.method.toLowerCase(), path: req.path, query: req.query, headers: req.headers as Record<string, string> };
    const operation = api.matchOperation(request);
    const errors = operation
      ? (api.validateRequest(request, operation).errors ?? []).map((e) => `${e.instancePath} ${e.message}`)
      : [`${req.method} ${req.path} is not in the description`];
    if (errors.length === 0) return undefined;
    refused.push(...errors);
    return { status: 400, body: { errors } };
  };
  for (const operation of api.getOperations()) {
    const extension = (operation as unknown as { 'x-emulator'?: Extension })['x-emulator'];
    if (operation.method !== 'get' || !extension || !operation.operationId) continue;
    const id = operation.operationId;
    records.set(id, []);
    provider.route('GET', operation.path.replace(/\{([^}]+)\}/g, ':$1'), (req) => {
      let list = records.get(id) ?? [];
      const since = extension.filter ? req.query[extension.filter.param] : undefined;
      if (extension.filter && since) list = list.filter((r) => Date.parse(String(r[extension.filter?.field ?? ''])) >= Date.parse(since));
      const size = extension.size ? Number(req.query[extension.size] ?? 20) : list.length;
      const page = extension.page ? Number(req.query[extension.page] ?? 1) : 1;
      const slice = list.slice((page - 1) * size, page * size);
      return { status: 200, body: extension.records === '.' ? slice : { [extension.records]: slice, total_count: list.length } };
    });
  }
  return { provider, records, refused, close: () => provider.close() };
}
