/** HubSpot's OAuth token endpoint (code exchange and refresh), as published. */
import type { SubsetRecipe } from '../openapi-subset.js';

export const recipe: SubsetRecipe = {
  source: 'https://github.com/HubSpot/HubSpot-public-api-spec-collection PublicApiSpecs/Auth/Oauth/Rollouts/155908/v1/oauth.json',
  operations: [['/oauth/v1/token', 'post']],
  out: 'test/providers/hubspot/openapi/oauth.json',
};
