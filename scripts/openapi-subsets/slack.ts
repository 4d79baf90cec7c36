/**
 * Slack's Web API: https://github.com/slackapi/slack-api-specs web-api/slack_web_openapi_v2.json
 * (info.version 1.7.0, the repository's last commit bc08db4 of 2021-09-07), the method the
 * connector polls. The description is Swagger 2.0, which openapi-backend does not read: the cut
 * operation is rewritten to OpenAPI 3.0 (each query parameter's `type` moves into `schema`,
 * `consumes`/`produces` dropped), recorded in `x-pollgate-source.replaced`.
 */
import type { Json, SubsetRecipe } from '../openapi-subset.js';

export const recipe: SubsetRecipe = {
  source: 'https://github.com/slackapi/slack-api-specs web-api/slack_web_openapi_v2.json',
  operations: [['/conversations.history', 'get']],
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
    return replaced;
  },
};
