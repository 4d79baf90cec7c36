/**
 * Jira Cloud platform's issue search for the connector drafter's tests: Atlassian's
 * https://developer.atlassian.com/cloud/jira/platform/swagger-v3.v3.json, as mirrored by
 * https://github.com/salto-io/jira-swaggers platform-swagger.v3.json.
 */
import type { SubsetRecipe } from '../openapi-subset.js';

export const recipe: SubsetRecipe = {
  source:
    'https://developer.atlassian.com/cloud/jira/platform/swagger-v3.v3.json (copy read from https://github.com/cfdude/mcp-jira swagger-v3.v3.json at commit 3f2bc64b6930f5bed3bc0fc637904ab88f4e280a)',
  operations: [['/rest/api/3/search/jql', 'get']],
  out: 'test/drafts/descriptions/jira.json',
  forDrafting: true,
};
