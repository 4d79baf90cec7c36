/**
 * Microsoft Graph v1.0: Microsoft publishes the description in the microsoftgraph/msgraph-metadata
 * repository (openapi/v1.0/openapi.yaml, too large to vendor or to copy here whole) and its
 * per-module cuts in microsoftgraph/msgraph-sdk-powershell (openApiDocs/v1.0/<module>.yml, made
 * from it). The subscriptions operations come from the ChangeNotifications module. The user and
 * event listings (modules Users and Calendar) are not part of this subset: those requests are
 * checked by the emulator's own rules only.
 */
import type { SubsetRecipe } from '../openapi-subset.js';

export const recipe: SubsetRecipe = {
  source:
    'microsoftgraph/msgraph-sdk-powershell openApiDocs/v1.0/ChangeNotifications.yml at commit 09b375c12cf746183a2f635d9cadada2b13c29a1 (cut from microsoftgraph/msgraph-metadata openapi/v1.0/openapi.yaml)',
  operations: [
    ['/subscriptions', 'post'],
    ['/subscriptions/{subscription-id}', 'get'],
    ['/subscriptions/{subscription-id}', 'patch'],
    ['/subscriptions/{subscription-id}', 'delete'],
  ],
  out: 'test/providers/microsoft-graph/openapi-subset.json',
  /**
   * Graph's generated schemas put `additionalProperties: {type: object}` (OData's open types) on
   * every part of an `allOf`; JSON Schema applies each part's `additionalProperties` on its own, so
   * as published `microsoft.graph.entity` refuses every subscription property but `id` (no request
   * Graph accepts would pass). Dropped from the two schemas the subscription requests use.
   */
  adjust(subset) {
    const schemas = subset.components!.schemas as Record<string, Record<string, unknown>>;
    const entity = schemas['microsoft.graph.entity'];
    const subscriptionPart = (schemas['microsoft.graph.subscription'].allOf as Array<Record<string, unknown>>)[1];
    delete entity.additionalProperties;
    delete subscriptionPart.additionalProperties;
    return ['microsoft.graph.entity additionalProperties', 'microsoft.graph.subscription allOf[1] additionalProperties'];
  },
};
