/**
 * Jira Cloud platform REST API v3: Atlassian publishes the description at
 * https://developer.atlassian.com/cloud/jira/platform/swagger-v3.v3.json. The admin webhook
 * endpoint (/rest/webhooks/1.0/webhook) is not part of it, nor is the OAuth 2.0 token endpoint
 * (auth.atlassian.com): those requests are not contract-checked.
 */
import type { SubsetRecipe } from '../openapi-subset.js';

export const recipe: SubsetRecipe = {
  source:
    'https://developer.atlassian.com/cloud/jira/platform/swagger-v3.v3.json (copy read from https://github.com/cfdude/mcp-jira swagger-v3.v3.json at commit 3f2bc64b6930f5bed3bc0fc637904ab88f4e280a, 2025-07-30)',
  operations: [
    ['/rest/api/3/search/jql', 'get'],
    ['/rest/api/3/myself', 'get'],
    ['/rest/api/3/webhook', 'get'],
    ['/rest/api/3/webhook', 'post'],
    ['/rest/api/3/webhook', 'delete'],
    ['/rest/api/3/webhook/refresh', 'put'],
  ],
  out: 'test/providers/jira/openapi-subset.json',
};
