import { Ajv, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { DefinitionError } from '../errors.js';
import { checkJavaPattern, validateDateTemplates } from '../templates/date-template.js';
import { listTemplateRefs, undeclaredIparam, validateRequestTemplate } from '../templates/request-template.js';
import { compileJsonPath, plainSteps } from '../lib/json-path.js';
import { connectorSchema } from './json-schema.js';
import type { ConnectorDefinition, PaginationDefinition, ResourceDefinition } from './schema.js';
import { checkUrlTemplate, declaredIparamsOf, secretFieldsOf } from './resolve.js';
import { type ConnectorSection, escapePointer, type SectionReport } from './section.js';
import { isSecretKey } from '../secrets/redact.js';

/**
 * Validates a connector definition: the JSON Schema first, then what a schema cannot say: about the
 * shared parts here (templates parse, no secret reaches a URL, resources and request templates
 * resolve, paths compile), about the parts features own through their sections (section.ts).
 * Every problem is a `{field, message}` with a JSON Pointer field (`/events/poller/incidents/url`);
 * the thrown DefinitionError names the source ("file connectors/x.json", "request body") and the
 * first problem, and carries all of them as `details`.
 */
const ajv = new Ajv({ allErrors: true, strict: false });
(addFormats as unknown as (a: Ajv) => void)(ajv);
const checkSchema = ajv.compile(connectorSchema);

export type Problem = { field: string; message: string };

/** The pagination fields each type reads (docs/connectors.md "Pagination"); others are typos. */
const PAGINATION_FIELDS: Record<PaginationDefinition['type'], string[]> = {
  page: ['pageParam', 'sizeParam', 'size', 'firstPage'],
  offset: ['offsetParam', 'sizeParam', 'size', 'firstOffset', 'valueTemplate'],
  cursor: ['cursorPath', 'cursorParam', 'cursorIn', 'stopPath', 'hasMorePath', 'sizeParam', 'size'],
  link: ['nextUrlPath', 'stopPath', 'allowedOrigins'],
};

/**
 * A failed `oneOf` reports every branch's errors. Keep what is specific: errors below the value when
 * a branch got that far, else one line naming the accepted types ("must be string or array").
 */
function collapseOneOf(errors: ErrorObject[]): ErrorObject[] {
  const dropped = new Set<ErrorObject>();
  const messages = new Map<ErrorObject, string>();
  for (const e of errors) {
    if (e.keyword !== 'oneOf' || dropped.has(e)) continue;
    const branch = errors.filter((x) => x !== e && x.schemaPath.startsWith(`${e.schemaPath}/`));
    const deeper = branch.filter((x) => x.instancePath.length > e.instancePath.length);
    if (deeper.length > 0) {
      for (const x of [e, ...branch]) if (!deeper.includes(x)) dropped.add(x);
    } else if (branch.length > 0) {
      for (const x of branch) dropped.add(x);
      // e.g. "must be string or must NOT have fewer than 1 items" for [] where a string or a list is due.
      const types = [...new Set(branch.filter((x) => x.keyword === 'type').map((x) => String((x.params as { type: unknown }).type)))];
      const others = branch.filter((x) => x.keyword !== 'type' && x.keyword !== 'oneOf').map((x) => x.message ?? 'is invalid');
      const parts = [...(types.length > 0 ? [`must be ${types.join(' or ')}`] : []), ...others];
      messages.set(e, parts.length > 0 ? parts.join(' or ') : 'matches none of the accepted forms');
    }
  }
  return errors.filter((e) => !dropped.has(e)).map((e) => (messages.has(e) ? { ...e, message: messages.get(e) } : e));
}

function schemaProblems(errors: ErrorObject[]): Problem[] {
  const problems: Problem[] = [];
  for (const e of collapseOneOf(errors)) {
    // `if` repeats its `then` error; a pattern error under propertyNames is reported by its parent.
    if (e.keyword === 'if' || (e.keyword === 'pattern' && e.propertyName !== undefined)) continue;
    const params = e.params as { additionalProperty?: string; missingProperty?: string; propertyName?: string; allowedValues?: unknown[] };
    const at = (name: string) => `${e.instancePath}/${name}`;
    if (params.additionalProperty !== undefined) problems.push({ field: at(params.additionalProperty), message: 'is not a known field' });
    else if (params.missingProperty !== undefined) problems.push({ field: at(params.missingProperty), message: 'is required' });
    else if (e.keyword === 'propertyNames')
      problems.push({ field: at(params.propertyName ?? ''), message: 'must be a field followed by an operator: = != > >= < <=' });
    else if (e.keyword === 'enum')
      problems.push({ field: e.instancePath || '/', message: `must be one of ${params.allowedValues?.map((v) => JSON.stringify(v)).join(', ')}` });
    else problems.push({ field: e.instancePath || '/', message: e.message ?? 'is invalid' });
  }
  // allErrors reports a field once per failing rule; one line each is enough.
  const seen = new Set<string>();
  return problems.filter((p) => !seen.has(`${p.field} ${p.message}`) && seen.add(`${p.field} ${p.message}`));
}

/** Collects the problems of a connector that passed the JSON Schema: the shared parts here, the rest by the sections. */
class Checker implements SectionReport {
  readonly problems: Problem[] = [];
  readonly declared: ReadonlySet<string>;
  readonly fields: ReadonlySet<string>;
  constructor(
    readonly def: ConnectorDefinition,
    readonly secrets: ReadonlySet<string>,
  ) {
    this.declared = declaredIparamsOf(def);
    this.fields = new Set((def.configuration ?? []).map((f) => f.key));
  }

  /** Runs `fn`; a thrown error becomes a problem at `field` (the first detail's field if it has one). */
  check(field: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      // A request template's error carries its own field (/requests/<name>/schema/path).
      const detail = ((err as DefinitionError).details?.[0] ?? {}) as Partial<Problem>;
      this.problems.push({ field: typeof detail.field === 'string' && detail.field.startsWith('/') ? detail.field : field, message: (err as Error).message });
    }
  }

  add(field: string, message: string): void {
    this.problems.push({ field, message });
  }

  /** Template tags valid everywhere; date templates too where `dates`; no secret in a URL where `url`. */
  strings(field: string, value: unknown, o: { url?: boolean; dates?: boolean } = {}): void {
    if (value === undefined) return;
    if (typeof value === 'string') {
      this.check(field, () => {
        if (o.url) checkUrlTemplate(value, this.secrets);
        for (const ref of listTemplateRefs(value)) {
          const undeclared = undeclaredIparam(ref, this.declared);
          if (undeclared) throw new DefinitionError(undeclared);
        }
        if (o.dates) validateDateTemplates(value);
      });
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => this.strings(`${field}/${i}`, v, o));
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) this.strings(`${field}/${escapePointer(k)}`, v, o);
    }
  }

  path(field: string, path: string | undefined): void {
    if (path !== undefined) this.check(field, () => compileJsonPath(path, field));
  }

  pagination(field: string, p: PaginationDefinition | undefined): void {
    if (!p) return;
    const allowed = new Set(['type', 'maxPages', ...PAGINATION_FIELDS[p.type]]);
    for (const key of Object.keys(p))
      if (!allowed.has(key)) this.add(`${field}/${key}`, `is not a field of "${p.type}" pagination (its fields: ${PAGINATION_FIELDS[p.type].join(', ')})`);
    const paths = p as { cursorPath?: string; stopPath?: string; hasMorePath?: string; nextUrlPath?: string };
    for (const key of ['cursorPath', 'stopPath', 'hasMorePath', 'nextUrlPath'] as const) this.path(`${field}/${key}`, paths[key]);
    if (p.type === 'cursor' && p.cursorIn === 'body')
      this.check(`${field}/cursorParam`, () => {
        if (!plainSteps(p.cursorParam, 'cursorParam'))
          throw new DefinitionError('must name a field of the request body: a dotted path or a JSONPath of plain names ($.pagination.starting_after)');
      });
  }

  resource(name: string, res: ResourceDefinition): void {
    const at = `/resources/${escapePointer(name)}`;
    this.strings(`${at}/path`, res.path, { url: true, dates: true });
    this.strings(`${at}/headers`, res.headers);
    this.strings(`${at}/body`, res.body, { dates: true });
    this.path(`${at}/idField`, res.idField);
    this.path(`${at}/recordsPath`, res.recordsPath);
    this.pagination(`${at}/pagination`, res.pagination);
    this.path(`${at}/deletedWhen/path`, res.deletedWhen?.path);
    for (const [clause, mapping] of Object.entries(res.where ?? {})) {
      const format = mapping.format;
      if (format && format !== 'epoch:s' && format !== 'epoch:ms') this.check(`${at}/where/${escapePointer(clause)}/format`, () => checkJavaPattern(format));
    }
  }

  /** The budget's scope renders from the configuration alone, and never from a secret (it is stored and shown in status). */
  rateLimit(): void {
    const scope = this.def.rateLimit?.scope;
    if (scope === undefined) return;
    this.strings('/rateLimit/scope', scope);
    this.check('/rateLimit/scope', () => {
      for (const ref of listTemplateRefs(scope)) {
        if (ref.root !== 'iparam') throw new DefinitionError('may use only <%= iparam.x %> values: a scope is rendered from the instance configuration');
        if (isSecretKey(ref.path, this.secrets))
          throw new DefinitionError(
            `may not use the secret "${ref.path}": the scope is stored and shown in status; name the account with a value that is not a secret (a domain, a site)`,
          );
      }
    });
  }

  run(sections: readonly ConnectorSection[]): void {
    const { def } = this;
    const keys = new Set<string>();
    (def.configuration ?? []).forEach((f, i) => {
      if (keys.has(f.key)) this.add(`/configuration/${i}/key`, `"${f.key}" is defined twice`);
      keys.add(f.key);
    });
    this.strings('/baseUrl', def.baseUrl, { url: true });
    for (const [name, res] of Object.entries(def.resources ?? {})) this.resource(name, res);
    for (const [name, tpl] of Object.entries(def.requests ?? {})) {
      this.check(`/requests/${escapePointer(name)}`, () => validateRequestTemplate(def.key, name, tpl, this.secrets, this.declared));
    }
    for (const section of sections) section.validate(def, this);
    this.rateLimit();
    // Provider calls without a host of their own are sent to baseUrl.
    const needsBase =
      Object.keys(def.resources ?? {}).length > 0 ||
      Object.keys(def.events?.poller ?? {}).length > 0 ||
      Object.values(def.requests ?? {}).some((t) => !t.schema.host);
    if (needsBase && !def.baseUrl) this.add('/baseUrl', 'is required: resources, poller objects and request templates without a host are sent to it');
  }
}

function fail(source: string, key: string | undefined, problems: Problem[]): never {
  const [first] = problems;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''}, see details)` : '';
  const what = key ? `connector "${key}" from ${source}` : `connector from ${source}`;
  throw new DefinitionError(`${what} is invalid: ${first.field}: ${first.message}${more}`, problems);
}

/**
 * Returns the definition when it is valid; throws DefinitionError naming source and field otherwise.
 * `sections` check the parts features own (src/connector-sections.ts lists them).
 */
export function validateConnector(input: unknown, source: string, sections: readonly ConnectorSection[]): ConnectorDefinition {
  if (!checkSchema(input)) {
    const problems = schemaProblems(checkSchema.errors ?? []);
    const key = (input as { key?: unknown } | null)?.key;
    fail(
      source,
      typeof key === 'string' && /^[a-z0-9][a-z0-9_-]{0,63}$/.test(key) ? key : undefined,
      problems.length ? problems : [{ field: '/', message: 'is invalid' }],
    );
  }
  const def = input as unknown as ConnectorDefinition;
  const checker = new Checker(def, secretFieldsOf(def));
  checker.run(sections);
  if (checker.problems.length > 0) fail(source, def.key, checker.problems);
  return def;
}
