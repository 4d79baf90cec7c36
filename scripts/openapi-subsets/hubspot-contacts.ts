/** HubSpot CRM contacts search: see hubspot-search.ts. */
import { searchRecipe } from './hubspot-search.js';

export const recipe = searchRecipe('contacts', 'PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/contacts.json');
