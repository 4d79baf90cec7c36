/**
 * Writes test/providers/stripe/openapi-subset.json: the operations of Stripe's published OpenAPI
 * description (https://github.com/stripe/openapi, openapi/spec3.json) that the stripe connector
 * calls — GET /v1/events, POST /v1/webhook_endpoints, DELETE /v1/webhook_endpoints/{webhook_endpoint}
 * — their parameters and request bodies as published, responses left out (the emulator answers).
 *
 *   node --import tsx scripts/stripe-openapi-subset.ts <path to spec3.json>
 *
 * The two enums the connector's requests depend on — `enabled_events` and `api_version` of a
 * webhook endpoint — are taken from the installed `stripe` package's types, which Stripe generates
 * from the OpenAPI version in its OPENAPI_VERSION file, when they list more than the given spec3.json
 * (an older copy of the description): the subset then validates against the API version the
 * connector pins. Each such replacement is recorded under `x-pollgate-source`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

type Json = Record<string, unknown>;
const OPERATIONS: Array<[string, string]> = [
  ['/v1/events', 'get'],
  ['/v1/webhook_endpoints', 'post'],
  ['/v1/webhook_endpoints/{webhook_endpoint}', 'delete'],
];

const specFile = process.argv[2];
if (!specFile) {
  console.error('usage: node --import tsx scripts/stripe-openapi-subset.ts <spec3.json>');
  process.exit(2);
}
const spec = JSON.parse(readFileSync(specFile, 'utf8')) as { openapi: string; info: Json; paths: Record<string, Record<string, Json>> };

const stripeDir = resolve(dirname(createRequire(import.meta.url).resolve('stripe')), '..');
const stripeVersion = String((JSON.parse(readFileSync(join(stripeDir, 'package.json'), 'utf8')) as { version: string }).version);
const openApiVersion = readFileSync(join(stripeDir, 'OPENAPI_VERSION'), 'utf8').trim();
const types = readFileSync(join(stripeDir, 'cjs/resources/WebhookEndpoints.d.ts'), 'utf8');
const createParams = types.slice(types.indexOf('export declare namespace WebhookEndpointCreateParams'));
const union = (name: string): string[] => {
  const m = new RegExp(`type ${name} = ([^;]+);`).exec(createParams);
  if (!m) throw new Error(`stripe ${stripeVersion}: no ${name} in WebhookEndpointCreateParams`);
  return [...m[1].matchAll(/'([^']+)'/g)].map((x) => x[1]);
};

const paths: Record<string, Record<string, Json>> = {};
for (const [path, method] of OPERATIONS) {
  const operation = spec.paths[path]?.[method];
  if (!operation) throw new Error(`${specFile} has no ${method.toUpperCase()} ${path}`);
  const { responses: _responses, ...kept } = operation;
  paths[path] = { ...paths[path], [method]: { ...kept, responses: { default: { description: 'not vendored: the emulator answers' } } } };
}

const replaced: string[] = [];
const body = (paths['/v1/webhook_endpoints'].post.requestBody as Json).content as Record<string, { schema: { properties: Record<string, Json> } }>;
const properties = body['application/x-www-form-urlencoded'].schema.properties;
const widen = (label: string, target: Json, values: string[]) => {
  const known = new Set((target.enum as string[] | undefined) ?? []);
  if (values.every((v) => known.has(v))) return;
  target.enum = values;
  replaced.push(`${label}: enum from stripe ${stripeVersion} (OpenAPI ${openApiVersion}) types`);
};
widen('POST /v1/webhook_endpoints enabled_events[]', properties.enabled_events.items as Json, union('EnabledEvent'));
widen('POST /v1/webhook_endpoints api_version', properties.api_version, union('ApiVersion'));

const subset = {
  openapi: spec.openapi,
  info: { ...spec.info, title: `${String(spec.info.title)} (subset)` },
  'x-pollgate-source': {
    description: 'https://github.com/stripe/openapi openapi/spec3.json',
    descriptionVersion: spec.info.version,
    operations: OPERATIONS.map(([p, m]) => `${m.toUpperCase()} ${p}`),
    replaced,
    regenerate: 'node --import tsx scripts/stripe-openapi-subset.ts <spec3.json>',
  },
  paths,
};
const out = new URL('../test/providers/stripe/openapi-subset.json', import.meta.url);
writeFileSync(out, `${JSON.stringify(subset, null, 2)}\n`);
console.log(
  `wrote ${out.pathname}: ${OPERATIONS.length} operations of Stripe API ${String(spec.info.version)}${replaced.length ? `; ${replaced.join('; ')}` : ''}`,
);
