/**
 * HubSpot's webhook subscriptions of a public app, as published: the connector registers nothing
 * (subscriptions are the app's settings), but its event mapping and the subscriptions its doc page
 * tells users to create are checked against the `eventType` enum of a subscription.
 */
import type { SubsetRecipe } from '../openapi-subset.js';

export const recipe: SubsetRecipe = {
  source: 'https://github.com/HubSpot/HubSpot-public-api-spec-collection PublicApiSpecs/Webhooks/Webhooks/Rollouts/147891/v3/webhooks.json',
  operations: [['/webhooks/v3/{appId}/subscriptions', 'post']],
  out: 'test/providers/hubspot/openapi/webhooks.json',
};
