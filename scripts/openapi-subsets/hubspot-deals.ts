/** HubSpot CRM deals search: see hubspot-search.ts. */
import { searchRecipe } from './hubspot-search.js';

export const recipe = searchRecipe('deals', 'PublicApiSpecs/CRM/Deals/Rollouts/424/v3/deals.json', '0-3');
