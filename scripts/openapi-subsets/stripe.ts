/**
 * Stripe: https://github.com/stripe/openapi openapi/spec3.json. The two enums the connector's
 * requests depend on — `enabled_events` and `api_version` of a webhook endpoint — are taken from the
 * installed `stripe` package's types, which Stripe generates from the OpenAPI version in its
 * OPENAPI_VERSION file, when they list more than the given spec3.json (an older copy of the
 * description): the subset then validates against the API version the connector pins.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { Json, SubsetRecipe } from '../openapi-subset.js';

export const recipe: SubsetRecipe = {
  source: 'https://github.com/stripe/openapi openapi/spec3.json',
  operations: [
    ['/v1/events', 'get'],
    ['/v1/webhook_endpoints', 'post'],
    ['/v1/webhook_endpoints/{webhook_endpoint}', 'delete'],
  ],
  out: 'test/providers/stripe/openapi-subset.json',
  adjust(subset) {
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
    const replaced: string[] = [];
    const body = (subset.paths['/v1/webhook_endpoints'].post.requestBody as Json).content as Record<string, { schema: { properties: Record<string, Json> } }>;
    const properties = body['application/x-www-form-urlencoded'].schema.properties;
    const widen = (label: string, target: Json, values: string[]) => {
      const known = new Set((target.enum as string[] | undefined) ?? []);
      if (values.every((v) => known.has(v))) return;
      target.enum = values;
      replaced.push(`${label}: enum from stripe ${stripeVersion} (OpenAPI ${openApiVersion}) types`);
    };
    widen('POST /v1/webhook_endpoints enabled_events[]', properties.enabled_events.items as Json, union('EnabledEvent'));
    widen('POST /v1/webhook_endpoints api_version', properties.api_version, union('ApiVersion'));
    return replaced;
  },
};
