/**
 * Intercom: https://github.com/intercom/Intercom-OpenAPI descriptions/2.11/api.intercom.io.yaml,
 * the API version the connector sends as `Intercom-Version` (its `intercom.api.version` default).
 * The description is YAML: convert it to JSON first, e.g.
 *   node -e "process.stdout.write(JSON.stringify(require('js-yaml').load(require('fs').readFileSync(0, 'utf8'))))" < api.intercom.io.yaml > intercom.json
 */
import type { Json, SubsetRecipe } from '../openapi-subset.js';

export const recipe: SubsetRecipe = {
  source: 'https://github.com/intercom/Intercom-OpenAPI descriptions/2.11/api.intercom.io.yaml',
  operations: [
    ['/contacts/search', 'post'],
    ['/conversations/search', 'post'],
  ],
  out: 'test/providers/intercom/openapi-subset.json',
  adjust: (subset) => untypedNullables(subset),
};

/**
 * `nullable: true` without a `type` (which ajv refuses to compile) is rewritten to what it means:
 * beside a `$ref` it is dropped (OpenAPI 3.0 ignores a reference's siblings); beside `oneOf` the
 * null becomes one more alternative.
 */
function untypedNullables(root: unknown): string[] {
  const replaced: string[] = [];
  const visit = (node: unknown, at: string) => {
    if (Array.isArray(node)) node.forEach((n, i) => visit(n, `${at}/${i}`));
    else if (node && typeof node === 'object') {
      const o = node as Json;
      if (o.nullable === true && o.type === undefined) {
        delete o.nullable;
        if (Array.isArray(o.oneOf)) {
          o.oneOf.push({ enum: [null] });
          replaced.push(`${at}: nullable as a oneOf alternative`);
        } else replaced.push(`${at}: nullable beside $ref dropped`);
      }
      for (const [key, value] of Object.entries(o)) visit(value, `${at}/${key}`);
    }
  };
  visit((root as Json).components, '#/components');
  return replaced;
}
