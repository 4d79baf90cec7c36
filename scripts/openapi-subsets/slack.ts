/**
 * Slack's Web API: https://github.com/slackapi/slack-api-specs web-api/slack_web_openapi_v2.json
 * (info.version 1.7.0, the repository's last commit bc08db4 of 2021-09-07), the method the
 * connector polls and the OAuth v2 code exchange. The description is Swagger 2.0, which
 * openapi-backend does not read: the cut operations are rewritten to OpenAPI 3.0 (each query
 * parameter's `type` moves into `schema`, `consumes`/`produces` dropped), recorded in
 * `x-pollgate-source.replaced`. The description predates token rotation and PKCE: oauth.v2.access
 * gets the three arguments Slack's method reference lists beside the four it declares —
 * `grant_type` ("The grant_type param as described in the OAuth spec"), `code_verifier` ("The
 * code_verifier param used to generate the code_challenge originally. Used for PKCE.") and
 * `refresh_token` ("The refresh_token param as described in the OAuth spec"), quoted from the method
 * reference as Slack's generated method docs carry it (https://docs.slack.dev/reference/methods/oauth.v2.access).
 */
import type { Json, SubsetRecipe } from '../openapi-subset.js';

export const recipe: SubsetRecipe = {
  source: 'https://github.com/slackapi/slack-api-specs web-api/slack_web_openapi_v2.json',
  operations: [
    ['/conversations.history', 'get'],
    // The OAuth v2 code exchange (the OAuth alternative's token URL).
    ['/oauth.v2.access', 'get'],
  ],
  out: 'test/providers/slack/openapi-subset.json',
  adjust: (subset) => {
    const replaced: string[] = [];
    (subset as unknown as Json).openapi = '3.0.3';
    delete (subset as unknown as Json).swagger;
    replaced.push('swagger 2.0 → openapi 3.0.3');
    for (const [path, item] of Object.entries(subset.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        for (const key of ['consumes', 'produces']) delete operation[key];
        const parameters = (operation.parameters ?? []) as Json[];
        operation.parameters = parameters.map((p) => {
          const { type, format, ...rest } = p;
          return { ...rest, schema: format === undefined ? { type } : { type, format } };
        });
        replaced.push(`${method.toUpperCase()} ${path}: ${parameters.length} parameters' type moved into schema`);
      }
    }
    const exchange = subset.paths['/oauth.v2.access'].get;
    const added = [
      ['grant_type', 'The grant_type param as described in the OAuth spec.'],
      ['code_verifier', 'The code_verifier param used to generate the code_challenge originally. Used for PKCE.'],
      ['refresh_token', 'The refresh_token param as described in the OAuth spec.'],
    ];
    exchange.parameters = [
      ...(exchange.parameters as Json[]),
      ...added.map(([name, description]) => ({ name, in: 'query', description, schema: { type: 'string' } })),
    ];
    replaced.push(`GET /oauth.v2.access: ${added.map(([name]) => name).join(', ')} added from Slack's method reference (the description predates them)`);
    return replaced;
  },
};
