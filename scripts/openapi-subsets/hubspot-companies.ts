/** HubSpot CRM companies search: see hubspot-search.ts. */
import { searchRecipe } from './hubspot-search.js';

export const recipe = searchRecipe('companies', 'PublicApiSpecs/CRM/Companies/Rollouts/424/v3/companies.json');
