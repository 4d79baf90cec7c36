/**
 * HubSpot's CRM search request as published in
 * https://github.com/HubSpot/HubSpot-public-api-spec-collection (PublicApiSpecs/CRM/<Object>/Rollouts/424/v3/<object>.json),
 * shared by the contacts, companies and deals recipes. Two known faults of the published schema
 * are corrected, each recorded in the subset's `x-pollgate-source.replaced`:
 * - `sorts` items are typed as strings, while the search guide sorts with objects
 *   ("sorts": [{"propertyName": "createdate", "direction": "DESCENDING"}],
 *   https://developers.hubspot.com/docs/api/crm/search, "Sort search results"); HubSpot's own SDKs
 *   carry the same fault (https://github.com/HubSpot/hubspot-api-nodejs/issues/9,
 *   https://github.com/HubSpot/hubspot-api-python/issues/236): the object form is accepted beside
 *   the string, with `direction` limited to the guide's two values.
 * - `after` and `properties` are listed as required, while a first page has no cursor and the
 *   guide's requests leave `properties` out to get the default properties.
 */
import type { Json, OpenApiDocument, SubsetRecipe } from '../openapi-subset.js';

/**
 * `publishedAs`: the object's name in the published path when it differs (the deals description
 * names deals by their object type id, `/crm/v3/objects/0-3/search`; the guide's path names them
 * `deals`, which the connector sends): the path is renamed after the cut and the rename recorded.
 */
export function searchRecipe(object: 'contacts' | 'companies' | 'deals', file: string, publishedAs: string = object): SubsetRecipe {
  const published = `/crm/v3/objects/${publishedAs}/search`;
  const sent = `/crm/v3/objects/${object}/search`;
  return {
    source: `https://github.com/HubSpot/HubSpot-public-api-spec-collection ${file}`,
    operations: [[published, 'post']],
    out: `test/providers/hubspot/openapi/${object}.json`,
    adjust(subset) {
      const replaced = fixSearchRequest(subset);
      if (published !== sent) {
        subset.paths = { [sent]: subset.paths[published] };
        replaced.push(`path ${published} as ${sent} (object type id ${publishedAs} is ${object})`);
      }
      return replaced;
    },
  };
}

function fixSearchRequest(subset: OpenApiDocument): string[] {
  const request = subset.components?.schemas?.PublicObjectSearchRequest as Json & { required: string[]; properties: Record<string, Json> };
  const replaced: string[] = [];
  const items = request.properties.sorts.items as Json;
  if (items.type === 'string') {
    request.properties.sorts.items = {
      anyOf: [
        { type: 'string' },
        {
          type: 'object',
          required: ['propertyName'],
          additionalProperties: false,
          properties: { propertyName: { type: 'string' }, direction: { type: 'string', enum: ['ASCENDING', 'DESCENDING'] } },
        },
      ],
    };
    replaced.push('PublicObjectSearchRequest.sorts items: strings or {propertyName, direction ASCENDING|DESCENDING} (the search guide sorts with objects)');
  }
  const optional = ['after', 'properties'].filter((name) => request.required.includes(name));
  if (optional.length) {
    request.required = request.required.filter((name) => !optional.includes(name));
    replaced.push(`PublicObjectSearchRequest.required: ${optional.join(', ')} optional (a first page has no cursor; default properties without a list)`);
  }
  return replaced;
}
