import { ApiError } from '../errors.js';
import { type ConfigurationField, authOf } from './auth.js';
import type { Description, JsonObject } from './description.js';
import { changeFilterOf, pagingOf } from './listing.js';
import { getOperations, type ListOperation, propertiesOf } from './operations.js';
import { dateFieldsOf, idFieldOf, recordsOf } from './records.js';
import type { DraftReport, ObjectReport } from './report.js';
import { webhooksOf } from './webhooks.js';

/**
 * A connector drafted from a provider's API description: one poller object per list operation
 * (GET on a collection path answering records), each with what could be read of its records,
 * id, dates, update filter and paging; auth from the security schemes. The draft always passes
 * the connector validator; objects missing something the format requires are left out and named
 * in the report with what to decide.
 */

export interface DraftOptions {
  /** Object names or collection paths (`/repos/{owner}/{repo}/issues`) to draft; default all. */
  objects?: string[];
  /** The connector key; default from the description's title. */
  key?: string;
}

export interface Draft {
  connector: JsonObject;
  report: DraftReport;
}

const STOP_WORDS = new Set(['the', 'api', 'apis', 'rest', 'openapi', 'swagger', 'spec', 'platform', 'cloud', 'public', 'service', 'subset']);

export function keyFromTitle(title: string): string {
  const words = title
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w && !STOP_WORDS.has(w) && !/^v\d+$/.test(w));
  return (words.join('-') || 'draft').slice(0, 64).replace(/-+$/, '');
}

const literalSegments = (path: string) => path.split('/').filter((s) => s && !s.startsWith('{'));
const endsInLiteral = (path: string) => {
  const last = path.split('/').filter(Boolean).at(-1);
  return last !== undefined && !last.startsWith('{');
};
/** Search endpoints are named after what they find (`/search/jql` answering `issues` → `issues`). */
const SEARCH_SEGMENT = /^(search|query|jql|find|list)$/i;
const nameOf = (segments: string[]) =>
  segments
    .join('_')
    .replace(/[^A-Za-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toLowerCase();

/** Unique object names: the last path segment, widened by earlier segments where paths share it. */
export function objectNames(paths: string[]): Map<string, string> {
  const names = new Map<string, string>();
  const width = new Map(paths.map((p) => [p, 1]));
  for (let round = 0; round < 8; round++) {
    for (const p of paths) names.set(p, nameOf(literalSegments(p).slice(-(width.get(p) ?? 1))));
    const clash = new Map<string, string[]>();
    for (const [p, n] of names) clash.set(n, [...(clash.get(n) ?? []), p]);
    let widened = false;
    for (const group of clash.values()) {
      if (group.length < 2) continue;
      for (const p of group) {
        if ((width.get(p) ?? 1) < literalSegments(p).length) {
          width.set(p, (width.get(p) ?? 1) + 1);
          widened = true;
        }
      }
    }
    if (!widened) break;
  }
  // Paths that differ only in parameters (`/a/{x}/b` and `/a/b`) keep a numeric suffix.
  const counts = new Map<string, number>();
  for (const [p, n] of names) {
    const seen = counts.get(n) ?? 0;
    counts.set(n, seen + 1);
    if (seen > 0) names.set(p, `${n}_${seen + 1}`);
  }
  return names;
}

/** `{owner}` in a path becomes the instance's configuration value `<key>.owner`. */
function templatePath(path: string, key: string, configuration: ConfigurationField[]): string {
  return path.replace(/\{([^}/]+)\}/g, (_m, name: string) => {
    const configKey = `${key}.${name}`;
    if (!configuration.some((c) => c.key === configKey)) {
      configuration.push({ key: configKey, required: true, description: `The {${name}} of ${path}` });
    }
    return `<%= iparam.${configKey} %>`;
  });
}

/** Server variables (`https://{subdomain}.example.com`) become configuration keys too. */
function baseUrlOf(d: Description, key: string, configuration: ConfigurationField[], todo: string[]): string {
  if (!d.baseUrl) {
    todo.push('the description names no server: set "baseUrl" (instances can set base.url meanwhile)');
    return 'https://api.example.invalid';
  }
  if (!/^https?:\/\//.test(d.baseUrl)) todo.push(`the server URL "${d.baseUrl}" is relative: make "baseUrl" absolute`);
  return templatePath(d.baseUrl, key, configuration);
}

/** The answer holds its records in one named array field, found with certainty. */
function isRecordsArray(d: Description, op: ListOperation): boolean {
  const found = recordsOf(d, op, '');
  return found.finding?.confidence === 'high' && found.records?.recordsPath !== undefined;
}

/** An answer that is a page of a listing: a records array beside paging or count fields. */
function hasListShape(op: ListOperation): boolean {
  const props = op.response ? [...propertiesOf(op.response.schema).keys()] : [];
  return props.some((p) => /^(paging|pages|next|has_?more|total|total_?count|cursor|links|_links)$/i.test(p));
}

function draftObject(
  d: Description,
  op: ListOperation,
  all: ListOperation[],
  objectType: string,
  taken: Set<string>,
  key: string,
  configuration: ConfigurationField[],
) {
  const report: ObjectReport = { objectType, path: op.path, operation: op.at, included: false, findings: [], todo: [] };
  const found = recordsOf(d, op, objectType);
  const array = found.records?.recordsPath?.match(/^\$\.(\w+)\[\*\]$/)?.[1];
  if (SEARCH_SEGMENT.test(objectType) && array && !taken.has(array)) report.objectType = array;
  if (found.finding) report.findings.push(found.finding);
  if (!found.records) {
    report.todo.push(found.todo ?? 'records unknown');
    return { report };
  }
  const id = idFieldOf(found.records, op, all, objectType);
  if (!id.finding) {
    report.todo.push(id.todo ?? 'id unknown');
    return { report };
  }
  report.findings.push(id.finding);
  const dates = dateFieldsOf(found.records);
  report.findings.push(...dates);
  if (!dates.some((f) => f.what === 'updatedDateField')) report.todo.push('no updated-date field found: changes are told apart by content only');
  const filter = changeFilterOf(op);
  const paging = pagingOf(d, op, found.records.recordsPath);
  report.findings.push(...filter.findings, ...paging.findings);
  report.todo.push(...filter.todo, ...paging.todo);
  const query = [...filter.params, ...paging.params].join('&');
  const headers = headersOf(op, report);
  const datesConfiguration: JsonObject = {};
  for (const f of dates) {
    datesConfiguration[f.what] = f.value;
    if (f.format) datesConfiguration[f.what === 'updatedDateField' ? 'updatedDateFormat' : 'createdDateFormat'] = f.format;
  }
  const object: JsonObject = {
    url: `${templatePath(op.path, key, configuration)}${query ? `?${query}` : ''}`,
    idField: id.finding.value,
    ...(found.records.recordsPath ? { recordsPath: found.records.recordsPath } : {}),
    ...(Object.keys(headers).length ? { headers } : {}),
    ...(paging.pagination ? { pagination: paging.pagination } : {}),
    ...(Object.keys(datesConfiguration).length ? { datesConfiguration } : {}),
    // Without an update filter every poll is a full listing: deletions can be seen.
    ...(filter.params.some((p) => /\$\{/.test(p)) ? {} : { deletes: true }),
  };
  report.included = true;
  return { report, object };
}

/** Checks a connector definition the way the gateway loads one (throws what it refuses). */
export type ConnectorValidator = (input: unknown, source: string) => unknown;

export function draftConnector(d: Description, validate: ConnectorValidator, options: DraftOptions = {}): Draft {
  const key = options.key ?? keyFromTitle(d.title);
  const todo: string[] = [];
  const operations = getOperations(d);
  // A collection path ends in a literal segment (`/issues`), or in a parameter naming the kind of
  // record (`/crm/v3/objects/{objectType}`) when the answer is a list by its shape (`results`, `data`…).
  const collections = operations.filter((op) => op.response && (endsInLiteral(op.path) || (hasListShape(op) && isRecordsArray(d, op))));
  const names = objectNames(collections.map((op) => op.path));
  const wanted = options.objects?.length ? new Set(options.objects) : undefined;
  const chosen = collections.filter((op) => !wanted || wanted.has(op.path) || wanted.has(names.get(op.path) ?? ''));
  for (const w of wanted ?? []) {
    if (!collections.some((op) => op.path === w || names.get(op.path) === w))
      todo.push(`"${w}" is neither an object name nor a collection path of the description`);
  }
  const configuration: ConfigurationField[] = [];
  const baseUrl = baseUrlOf(d, key, configuration, todo);
  const auth = authOf(d, chosen);
  configuration.push(...auth.configuration);
  const poller: JsonObject = {};
  const objects: ObjectReport[] = [];
  for (const op of chosen) {
    const { report, object } = draftObject(d, op, operations, names.get(op.path) ?? 'records', new Set(names.values()), key, configuration);
    objects.push(report);
    if (object) poller[report.objectType] = object;
  }
  if (Object.keys(poller).length === 0) {
    throw new ApiError(
      422,
      'NOTHING_TO_DRAFT',
      'no object could be drafted from the description: see details for what each candidate lacks',
      objects.length ? objects : [{ todo }],
    );
  }
  configuration.push({ key: 'base.url', required: false, description: `Replaces ${baseUrl} (a proxy, a sandbox, tests)` });
  const connector: JsonObject = {
    key,
    name: d.title,
    hub: 'general',
    description: `Drafted from ${d.title} ${d.apiVersion} (${d.version === '2.0' ? 'Swagger 2.0' : `OpenAPI ${d.version}`}); review the report before use.`,
    configuration,
    baseUrl,
    ...(auth.auth.length ? { auth: auth.auth.length === 1 ? withoutWhen(auth.auth[0]) : auth.auth } : { auth: { type: 'none' } }),
    events: { supported: ['polling'], poller },
  };
  const report: DraftReport = {
    source: { title: d.title, version: d.apiVersion, description: d.version },
    objects,
    auth: { findings: auth.findings, todo: auth.todo },
    webhooks: webhooksOf(d),
    todo,
  };
  if (report.webhooks.length)
    todo.push(
      `the description names ${report.webhooks.length} webhook event(s) (see "webhooks"): webhook mode needs its registration and signature written by hand`,
    );
  validate(connector, `the draft of "${d.title}"`);
  return { connector, report };
}

/** Header parameters with a default (an API version, say) are sent; a required one without is a TODO. */
function headersOf(op: ListOperation, report: ObjectReport): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const p of op.parameters) {
    if (p.in !== 'header' || /^(authorization|accept|content-type|user-agent)$/i.test(p.name)) continue;
    if (typeof p.default === 'string' || typeof p.default === 'number') {
      headers[p.name] = String(p.default);
      report.findings.push({ what: 'header', value: `${p.name}: ${p.default}`, from: p.at, confidence: 'high', note: "the parameter's default" });
    } else if (p.required) report.todo.push(`header ${p.name} is required and has no default: set it in "headers"`);
  }
  return headers;
}

/** One auth needs no `when`; its keys become required. */
function withoutWhen(auth: JsonObject): JsonObject {
  const { when: _when, ...rest } = auth;
  return rest;
}
