/**
 * Shopify: the Admin GraphQL API schema, version 2026-10, as Shopify publishes it for its developer
 * tools — the introspection result in the npm package @shopify/dev-mcp 1.16.0, file
 * dist/data/admin_2026-10.json.gz (`npm pack @shopify/dev-mcp@1.16.0`, then pass that file).
 */
import type { GraphqlSubsetRecipe } from '../graphql-subset.js';

export const recipe: GraphqlSubsetRecipe = {
  source: 'the Shopify Admin GraphQL API schema 2026-10 (npm @shopify/dev-mcp@1.16.0, dist/data/admin_2026-10.json.gz)',
  connector: 'connectors/shopify.json',
  out: 'test/providers/shopify/admin-2026-10.subset.graphql',
};
