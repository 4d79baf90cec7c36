/**
 * Microsoft Graph v1.0, the user operations: from Microsoft's Users module of the v1.0 description
 * (microsoftgraph/msgraph-sdk-powershell openApiDocs/v1.0/Users.yml, cut from
 * microsoftgraph/msgraph-metadata openapi/v1.0/openapi.yaml). The module is 1.2 MB of YAML; the
 * input given to the script was an excerpt of it holding the two operations and the query
 * parameters they reference, copied as published (their responses left out, as the cut does).
 * The calendar listing (`/me/events`) is in no module read here: it is not contract-checked. The
 * users delta query is in the Users.Functions module: see microsoft-graph-users-delta.ts.
 */
import type { SubsetRecipe } from '../openapi-subset.js';

export const recipe: SubsetRecipe = {
  source: 'microsoftgraph/msgraph-sdk-powershell openApiDocs/v1.0/Users.yml at commit 01724eb1e735b45ee4b1c31f65b6631afdd2b897',
  operations: [
    ['/users', 'get'],
    ['/users/{user-id}', 'get'],
  ],
  out: 'test/providers/microsoft-graph/openapi-users.json',
};
