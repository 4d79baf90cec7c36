/**
 * HubSpot CRM objects' list operation for the connector drafter's tests:
 * https://github.com/HubSpot/HubSpot-public-api-spec-collection PublicApiSpecs/CRM/Objects/Rollouts/424/v3/objects.json.
 */
import type { SubsetRecipe } from '../openapi-subset.js';

export const recipe: SubsetRecipe = {
  source: 'https://github.com/HubSpot/HubSpot-public-api-spec-collection PublicApiSpecs/CRM/Objects/Rollouts/424/v3/objects.json',
  operations: [['/crm/v3/objects/{objectType}', 'get']],
  out: 'test/drafts/descriptions/hubspot.json',
  forDrafting: true,
};
