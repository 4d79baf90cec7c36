/**
 * Zendesk Support API: Zendesk publishes the description (YAML) at
 * https://developer.zendesk.com/zendesk/oas.yaml; convert it to JSON first
 * (`npx js-yaml oas.yaml > oas.json`). It describes the incremental exports but not the Webhooks
 * API (no /api/v2/webhooks path), so webhook registration is not contract-checked from it.
 */
import type { SubsetRecipe } from '../openapi-subset.js';

export const recipe: SubsetRecipe = {
  source:
    'https://developer.zendesk.com/zendesk/oas.yaml (copy fetched 2026-08-02, read from https://github.com/codewandler/flux-connectors specs/zendesk/ticketing-2026-08-02.openapi.yaml at commit eb3109b7a712db805f7d4744482d146f5b4cedb2)',
  operations: [
    ['/api/v2/incremental/tickets/cursor', 'get'],
    ['/api/v2/incremental/users/cursor', 'get'],
  ],
  out: 'test/providers/zendesk/openapi-subset.json',
};
