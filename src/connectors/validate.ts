import { Ajv, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { DefinitionError } from '../errors.js';
import { checkJavaPattern, validateDateTemplates } from '../templates/date-template.js';
import { listTemplateRefs, undeclaredIparam, validateRequestTemplate } from '../templates/request-template.js';
import { compileJsonPath } from '../lib/json-path.js';
import { validateMapping } from './event-mapping.js';
import { validateHandshake } from '../webhooks/handshake.js';
import { validateSignatureConfig } from '../webhooks/signatures.js';
import { connectorSchema } from './json-schema.js';
import { authAlternatives, whenKeys } from './auth-alternatives.js';
import type { ConnectorDefinition, PaginationDefinition, ResourceDefinition } from './schema.js';
import { checkUrlTemplate, declaredIparamsOf, resolvePollerObject, secretFieldsOf } from './resolve.js';
import { datesConfigurationProblems } from './dates-configuration.js';
import { pollerEventsMapping } from '../poller/event-feed.js';
import { isSecretKey } from '../secrets/redact.js';

/** The one instance setting a lookup may fill in: the time zone poller dates are written in. */
const LOOKUP_SETTING = 'event.poller.timezone';

/**
 * Validates a connector definition: the JSON Schema first, then what a schema cannot say (templates
 * parse, no secret reaches a URL, poller URLs resolve, webhook templates exist, JSONPaths compile).
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
  offset: ['offsetParam', 'sizeParam', 'size'],
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

/** Collects the problems of a connector that passed the JSON Schema. */
class Checker {
  readonly problems: Problem[] = [];
  readonly declared: ReadonlySet<string>;
  constructor(
    readonly def: ConnectorDefinition,
    readonly secrets: ReadonlySet<string>,
  ) {
    this.declared = declaredIparamsOf(def);
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

  jsonPath(field: string, path: string | undefined): void {
    if (path !== undefined) this.check(field, () => compileJsonPath(path, field));
  }

  pagination(field: string, p: PaginationDefinition | undefined): void {
    if (!p) return;
    const allowed = new Set(['type', 'maxPages', ...PAGINATION_FIELDS[p.type]]);
    for (const key of Object.keys(p))
      if (!allowed.has(key)) this.add(`${field}/${key}`, `is not a field of "${p.type}" pagination (its fields: ${PAGINATION_FIELDS[p.type].join(', ')})`);
    const paths = p as { cursorPath?: string; stopPath?: string; hasMorePath?: string; nextUrlPath?: string };
    for (const key of ['cursorPath', 'stopPath', 'hasMorePath', 'nextUrlPath'] as const) this.jsonPath(`${field}/${key}`, paths[key]);
  }

  resource(name: string, res: ResourceDefinition): void {
    const at = `/resources/${escapePointer(name)}`;
    this.strings(`${at}/path`, res.path, { url: true, dates: true });
    this.strings(`${at}/headers`, res.headers);
    this.strings(`${at}/body`, res.body, { dates: true });
    this.jsonPath(`${at}/recordsPath`, res.recordsPath);
    this.pagination(`${at}/pagination`, res.pagination);
    this.jsonPath(`${at}/deletedWhen/path`, res.deletedWhen?.path);
    for (const [clause, mapping] of Object.entries(res.where ?? {})) {
      const format = mapping.format;
      if (format && format !== 'epoch:s' && format !== 'epoch:ms') this.check(`${at}/where/${escapePointer(clause)}/format`, () => checkJavaPattern(format));
    }
  }

  pollerObject(objectType: string): void {
    const obj = this.def.events!.poller![objectType];
    const at = `/events/poller/${escapePointer(objectType)}`;
    this.check(`${at}/url`, () => {
      validateDateTemplates(obj.url);
      resolvePollerObject(this.def, objectType, obj as unknown as Record<string, unknown>);
    });
    this.strings(`${at}/url`, obj.url);
    this.strings(`${at}/headers`, obj.headers);
    this.strings(`${at}/body`, obj.body, { dates: true });
    this.jsonPath(`${at}/recordsPath`, obj.recordsPath);
    this.pagination(`${at}/pagination`, obj.pagination);
    this.jsonPath(`${at}/deletedWhen/path`, obj.deletedWhen?.path);
    if (obj.deleted) {
      const deleted = obj.deleted;
      this.check(`${at}/deleted/url`, () => validateDateTemplates(deleted.url));
      this.strings(`${at}/deleted/headers`, deleted.headers);
      this.strings(`${at}/deleted/body`, deleted.body, { dates: true });
      this.jsonPath(`${at}/deleted/recordsPath`, deleted.recordsPath);
      this.jsonPath(`${at}/deleted/window/coveredPath`, deleted.window?.coveredPath);
      this.pagination(`${at}/deleted/pagination`, deleted.pagination);
    }
    for (const p of datesConfigurationProblems(obj.datesConfiguration)) this.add(`${at}/datesConfiguration${p.key ? `/${p.key}` : ''}`, p.message);
    if (obj.events) this.check(`${at}/events`, () => validateMapping(pollerEventsMapping(objectType, obj.events!)));
  }

  webhook(): void {
    const { def } = this;
    const webhook = def.events?.webhook;
    if (def.events?.supported.includes('webhook') && !webhook) this.add('/events/webhook', 'is required when "webhook" is a supported event mode');
    if (!webhook) return;
    if (webhook.registrations && (webhook.register || webhook.deregister || webhook.webhookIdPath)) {
      this.add('/events/webhook/registrations', 'cannot be combined with register, deregister or webhookIdPath: list every registration under registrations');
    }
    const names = new Set<string>();
    (webhook.registrations ?? [webhook]).forEach((registration, i) => {
      const at = webhook.registrations ? `/events/webhook/registrations/${i}` : '/events/webhook';
      const name = (registration as { name?: string }).name;
      if (name !== undefined && names.has(name)) this.add(`${at}/name`, `"${name}" is defined twice`);
      if (name !== undefined) names.add(name);
      for (const key of ['register', 'deregister', 'check'] as const) {
        if (key === 'check' && registration === webhook) continue; // checked once below
        const template = registration[key];
        if (template && !def.requests?.[template]) this.add(`${at}/${key}`, `names request template "${template}", which is not defined under requests`);
      }
      if (registration.deregister && !registration.register) this.add(`${at}/register`, 'is required with deregister');
      if (registration.deregister && !registration.webhookIdPath)
        this.add(`${at}/webhookIdPath`, 'is required with deregister: the id found there in the register answer is what deregister is given');
      this.jsonPath(`${at}/webhookIdPath`, registration.webhookIdPath);
      this.jsonPath(`${at}/checkIdsPath`, registration.checkIdsPath);
      if (registration.checkIdsPath && !(registration.check ?? webhook.check)) this.add(`${at}/check`, 'is required with checkIdsPath');
      const pattern = registration.webhookIdPattern;
      if (pattern !== undefined) this.check(`${at}/webhookIdPattern`, () => void new RegExp(pattern));
    });
    if (webhook.check && !def.requests?.[webhook.check])
      this.add('/events/webhook/check', `names request template "${webhook.check}", which is not defined under requests`);
    if (webhook.registrations) {
      this.jsonPath('/events/webhook/checkIdsPath', webhook.checkIdsPath);
      if (webhook.checkIdsPath && !webhook.check) this.add('/events/webhook/check', 'is required with checkIdsPath');
    }
    for (const [key, path] of Object.entries(webhook.saveFromResponse ?? {})) {
      const field = `/events/webhook/saveFromResponse/${escapePointer(key)}`;
      if (!(def.configuration ?? []).some((f) => f.key === key)) this.add(field, `names "${key}", which is not a configuration field of this connector`);
      this.jsonPath(field, path);
    }
    this.check('/events/webhook/events', () => validateMapping(webhook.events));
    if (webhook.signature) {
      this.check('/events/webhook/signature', () => validateSignatureConfig(webhook.signature!));
      this.strings('/events/webhook/signature/secret', webhook.signature.secret);
    }
    if (webhook.handshake) {
      const fields = webhook.handshake.type === 'echo-query' ? ['type', 'param'] : ['type', 'challengePath', 'when'];
      for (const key of Object.keys(webhook.handshake))
        if (!fields.includes(key)) this.add(`/events/webhook/handshake/${key}`, `is not a field of the "${webhook.handshake.type}" handshake`);
      this.check('/events/webhook/handshake', () => validateHandshake(webhook.handshake));
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

  /** Each auth (or each alternative): its templates and paths; alternatives after one without `when` are unreachable. */
  private auth(): void {
    const { def } = this;
    const alternatives = authAlternatives(def);
    alternatives.forEach((alternative, i) => {
      const at = Array.isArray(def.auth) ? `/auth/${i}` : '/auth';
      const auth = alternative as unknown as Record<string, unknown>;
      for (const key of ['username', 'password', 'token', 'value', 'authorizationParams', 'tokenParams']) this.strings(`${at}/${key}`, auth[key]);
      for (const key of ['authorizationUrl', 'tokenUrl', 'requestTokenUrl', 'authorizeUrl', 'accessTokenUrl'])
        this.strings(`${at}/${key}`, auth[key], { url: true });
      this.jsonPath(`${at}/baseUrlFrom`, auth.baseUrlFrom as string | undefined);
      const lookup = alternative.type === 'oauth2' ? alternative.baseUrlLookup : undefined;
      if (lookup) {
        this.strings(`${at}/baseUrlLookup/url`, lookup.url, { url: true });
        this.strings(`${at}/baseUrlLookup/baseUrl`, lookup.baseUrl, { url: true });
        if (lookup.match) this.strings(`${at}/baseUrlLookup/match/equals`, lookup.match.equals);
        this.jsonPath(`${at}/baseUrlLookup/itemsPath`, lookup.itemsPath);
        this.jsonPath(`${at}/baseUrlLookup/valuePath`, lookup.valuePath);
        this.jsonPath(`${at}/baseUrlLookup/match/path`, lookup.match?.path);
      }
      if (Array.isArray(def.auth) && whenKeys(alternative).length === 0 && i < alternatives.length - 1)
        this.add(`${at}/when`, 'is required: an alternative without "when" fits every instance, so the ones after it would never apply');
      for (const key of whenKeys(alternative))
        if (!this.declared.has(key)) this.add(`${at}/when`, `names "${key}", which is not a configuration field of this connector`);
    });
  }

  /** `events.lookups`: known templates; values saved under the connector's keys or the poller's time zone. */
  lookups(): void {
    const { def } = this;
    (def.events?.lookups ?? []).forEach((lookup, i) => {
      const at = `/events/lookups/${i}`;
      if (!def.requests?.[lookup.request]) this.add(`${at}/request`, `names request template "${lookup.request}", which is not defined under requests`);
      for (const [key, path] of Object.entries(lookup.save)) {
        const field = `${at}/save/${escapePointer(key)}`;
        if (key !== LOOKUP_SETTING && !(def.configuration ?? []).some((f) => f.key === key))
          this.add(field, `names "${key}", which is neither a configuration field of this connector nor ${LOOKUP_SETTING}`);
        this.jsonPath(field, path);
      }
    });
  }

  run(): void {
    const { def } = this;
    const keys = new Set<string>();
    (def.configuration ?? []).forEach((f, i) => {
      if (keys.has(f.key)) this.add(`/configuration/${i}/key`, `"${f.key}" is defined twice`);
      keys.add(f.key);
    });
    this.strings('/baseUrl', def.baseUrl, { url: true });
    this.auth();
    for (const [name, res] of Object.entries(def.resources ?? {})) this.resource(name, res);
    for (const objectType of Object.keys(def.events?.poller ?? {})) this.pollerObject(objectType);
    for (const [name, tpl] of Object.entries(def.requests ?? {})) {
      this.check(`/requests/${escapePointer(name)}`, () => validateRequestTemplate(def.key, name, tpl, this.secrets, this.declared));
    }
    this.webhook();
    this.lookups();
    this.rateLimit();
    // Provider calls without a host of their own are sent to baseUrl.
    const needsBase =
      Object.keys(def.resources ?? {}).length > 0 ||
      Object.keys(def.events?.poller ?? {}).length > 0 ||
      Object.values(def.requests ?? {}).some((t) => !t.schema.host);
    if (needsBase && !def.baseUrl) this.add('/baseUrl', 'is required: resources, poller objects and request templates without a host are sent to it');
  }
}

function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

function fail(source: string, key: string | undefined, problems: Problem[]): never {
  const [first] = problems;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''}, see details)` : '';
  const what = key ? `connector "${key}" from ${source}` : `connector from ${source}`;
  throw new DefinitionError(`${what} is invalid: ${first.field}: ${first.message}${more}`, problems);
}

/** Returns the definition when it is valid; throws DefinitionError naming source and field otherwise. */
export function validateConnector(input: unknown, source: string): ConnectorDefinition {
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
  checker.run();
  if (checker.problems.length > 0) fail(source, def.key, checker.problems);
  return def;
}
