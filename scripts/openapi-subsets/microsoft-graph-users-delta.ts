/**
 * Microsoft Graph v1.0, the users delta query: from Microsoft's Users.Functions module of the v1.0
 * description (microsoftgraph/msgraph-sdk-powershell openApiDocs/v1.0/Users.Functions.yml, cut from
 * microsoftgraph/msgraph-metadata openapi/v1.0/openapi.yaml). The module is 0.8 MB of YAML; the input
 * given to the script was an excerpt of it holding the operation and the query parameters it
 * references, copied as published (its responses left out, as the cut does). The description names
 * the function in its OData form, `/users/microsoft.graph.delta()`; Graph's documentation and
 * pollgate call it `/users/delta` ("GET /users/delta", https://learn.microsoft.com/graph/api/user-delta):
 * the emulator validates the one against the other.
 */
import type { SubsetRecipe } from '../openapi-subset.js';

export const recipe: SubsetRecipe = {
  source: 'microsoftgraph/msgraph-sdk-powershell openApiDocs/v1.0/Users.Functions.yml at commit 0315c00fe792687d93da823f0b9c785cad65a3a4',
  operations: [['/users/microsoft.graph.delta()', 'get']],
  out: 'test/providers/microsoft-graph/openapi-users-delta.json',
};
