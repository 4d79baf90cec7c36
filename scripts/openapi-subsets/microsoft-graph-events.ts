/**
 * Microsoft Graph v1.0, the calendar events the connector lists and fetches: from Microsoft's
 * Calendar module of the v1.0 description (microsoftgraph/msgraph-sdk-powershell
 * openApiDocs/v1.0/Calendar.yml, cut from microsoftgraph/msgraph-metadata openapi/v1.0/openapi.yaml).
 * The module is 0.8 MB of YAML; the input given to the script was an excerpt holding the two
 * operations as published (responses left out by the cut) and the four query-parameter components
 * they reference — those copied from the same generator's Users.Functions module, where they read
 * the same; Calendar's own copies, at the end of its 0.8 MB, were not read. The description names
 * the user `/users/{user-id}`; Graph's documentation and pollgate use the signed-in user's alias,
 * `GET /me/events` ("HTTP request", https://learn.microsoft.com/graph/api/user-list-events): the
 * emulator validates `/me/…` as `/users/me/…`.
 */
import type { SubsetRecipe } from '../openapi-subset.js';

export const recipe: SubsetRecipe = {
  source: 'microsoftgraph/msgraph-sdk-powershell openApiDocs/v1.0/Calendar.yml at commit 05285992051ac91e8177a729402122fac62dea56',
  operations: [
    ['/users/{user-id}/events', 'get'],
    ['/users/{user-id}/events/{event-id}', 'get'],
  ],
  out: 'test/providers/microsoft-graph/openapi-events.json',
};
