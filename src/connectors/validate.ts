import { Ajv, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { DefinitionError } from '../errors.js';
import { validateDateTemplates } from '../templates/date-template.js';
import { listTemplateRefs, validateRequestTemplate } from '../templates/request-template.js';
import { connectorSchema, type ConnectorDefinition } from './schema.js';
import { resolvePollerObject } from './resolve.js';
import { validateMapping } from '../webhooks/mapping.js';

/**
 * Validates a connector definition: the JSON Schema first, then what a schema cannot say (templates
 * parse, poller URLs resolve, webhook templates exist). Every problem is reported as
 * `{field, message}` with a JSON Pointer-like field, and the error names its source.
 */
const ajv = new Ajv({ allErrors: true, strict: false });
(addFormats as unknown as (a: Ajv) => void)(ajv);
const checkSchema = ajv.compile(connectorSchema);

type Problem = { field: string; message: string };

function schemaProblems(errors: ErrorObject[]): Problem[] {
  return errors
    .filter((e) => e.keyword !== 'if' && e.keyword !== 'oneOf')
    .map((e) => {
      const extra = (e.params as { additionalProperty?: string }).additionalProperty;
      return { field: `${e.instancePath || '/'}${extra ? `${e.instancePath ? '/' : ''}${extra}` : ''}`, message: extra ? 'is not a known field' : e.message ?? 'is invalid' };
    });
}

function check(problems: Problem[], field: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    problems.push({ field, message: (err as Error).message });
  }
}

export function validateConnector(input: unknown, source: string): ConnectorDefinition {
  if (!checkSchema(input)) {
    const problems = schemaProblems(checkSchema.errors ?? []);
    const first = problems[0] ?? { field: '/', message: 'is invalid' };
    throw new DefinitionError(`connector from ${source} is invalid: ${first.field} ${first.message}`, problems);
  }
  const def = input as unknown as ConnectorDefinition;
  const problems: Problem[] = [];
  const secrets = new Set((def.configuration ?? []).filter((f) => f.secret).map((f) => f.key));

  if (def.baseUrl) check(problems, '/baseUrl', () => listTemplateRefs(def.baseUrl!));
  for (const [name, tpl] of Object.entries(def.requests ?? {})) {
    check(problems, `/requests/${name}`, () => validateRequestTemplate(def.key, name, tpl, secrets));
  }
  for (const [name, res] of Object.entries(def.resources ?? {})) {
    check(problems, `/resources/${name}/path`, () => {
      validateDateTemplates(res.path);
      for (const ref of listTemplateRefs(res.path)) {
        if (ref.root === 'iparam' && secrets.has(ref.path)) throw new DefinitionError(`secret iparam "${ref.path}" may not be substituted into a URL`);
      }
    });
  }
  for (const [objectType, obj] of Object.entries(def.events?.poller ?? {})) {
    check(problems, `/events/poller/${objectType}/url`, () => {
      validateDateTemplates(obj.url);
      if (obj.body !== undefined) validateDateTemplates(JSON.stringify(obj.body));
      resolvePollerObject(def, objectType, obj as unknown as Record<string, unknown>);
    });
    const dates = obj.datesConfiguration;
    if (dates?.updatedDateFormat) check(problems, `/events/poller/${objectType}/datesConfiguration/updatedDateFormat`, () => validateDateTemplates(`\${date:${dates.updatedDateFormat}}`));
    if (dates?.createdDateFormat) check(problems, `/events/poller/${objectType}/datesConfiguration/createdDateFormat`, () => validateDateTemplates(`\${date:${dates.createdDateFormat}}`));
  }
  const webhook = def.events?.webhook;
  if (webhook) {
    for (const key of ['register', 'deregister'] as const) {
      const name = webhook[key];
      if (name && !def.requests?.[name]) problems.push({ field: `/events/webhook/${key}`, message: `names request template "${name}", which is not defined under requests` });
    }
    check(problems, '/events/webhook/events', () => validateMapping(webhook.events));
    if (webhook.signature?.secret) check(problems, '/events/webhook/signature/secret', () => listTemplateRefs(webhook.signature!.secret!));
  }
  if (def.events?.supported.includes('webhook') && !webhook) problems.push({ field: '/events/webhook', message: 'is required when "webhook" is a supported event mode' });

  if (problems.length > 0) {
    throw new DefinitionError(`connector "${def.key}" from ${source} is invalid: ${problems[0].field} ${problems[0].message}`, problems);
  }
  return def;
}
