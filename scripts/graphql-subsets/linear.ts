/**
 * Linear: the public GraphQL API's schema as Linear publishes it with its SDK, the SDL file
 * packages/sdk/src/schema.graphql of https://github.com/linear/linear (the @linear/sdk 88.3.0 tree,
 * commit 8335e09 of 2026-07-22).
 */
import type { GraphqlSubsetRecipe } from '../graphql-subset.js';

export const recipe: GraphqlSubsetRecipe = {
  source: 'the Linear GraphQL API schema (https://github.com/linear/linear packages/sdk/src/schema.graphql, @linear/sdk 88.3.0, commit 8335e09)',
  connector: 'connectors/linear.json',
  out: 'test/providers/linear/schema.subset.graphql',
};
