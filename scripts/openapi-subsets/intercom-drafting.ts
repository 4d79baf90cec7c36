/** Intercom's list operations for the connector drafter's tests: https://github.com/intercom/Intercom-OpenAPI descriptions/2.14/api.intercom.io.yaml. */
import type { SubsetRecipe } from '../openapi-subset.js';

export const recipe: SubsetRecipe = {
  source: 'https://github.com/intercom/Intercom-OpenAPI descriptions/2.14/api.intercom.io.yaml',
  operations: [
    ['/contacts', 'get'],
    ['/conversations', 'get'],
  ],
  out: 'test/drafts/descriptions/intercom.json',
  forDrafting: true,
};
