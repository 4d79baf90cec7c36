/**
 * GET /openapi.json: the API's paths as an OpenAPI 3.1 document (summaries, parameters and the
 * media type of each answer; the payloads are described in docs/api.md). One table, so a route
 * added here is documented here; test/api/openapi.test.ts fails when a route registered on the
 * routers is missing from it.
 */
// The console's assets (src/console/routes.ts serves them; the API layer names them rather than import a feature).
const CONSOLE_FILES = ['app.js', 'api.js', 'dom.js', 'views.js', 'chart.js', 'connectors.js', 'configuration.js', 'style.css'];

const ROUTES: Array<[string, string, string, boolean?]> = [
  ['get', '/elements', 'List connectors'],
  ['post', '/elements', 'Register a custom connector (409 when the key is taken)'],
  ['get', '/elements/{key}', 'One connector with its definition'],
  ['put', '/elements/{key}', 'Create or replace a custom connector (409 SECRETS_WOULD_MOVE unless moveSecrets)'],
  ['delete', '/elements/{key}', 'Remove a custom connector (409 while instances use it)'],
  ['get', '/elements/{key}/requests', "A connector's request templates"],
  ['get', '/elements/{key}/oauth/url', 'The provider authorize URL for an OAuth connector'],
  ['get', '/elements/{key}/oauth/token', 'An OAuth 1.0a request token'],
  ['post', '/connectors/draft', "Draft a connector from a provider's OpenAPI description (JSON or YAML body), with a report; stores nothing"],
  ['post', '/instances', 'Create an instance (Cloud Elements instance JSON)'],
  ['get', '/instances', 'List instances'],
  ['get', '/instances/{id}', 'One instance'],
  ['patch', '/instances/{id}', 'Merge configuration, rename, retag'],
  ['delete', '/instances/{id}', 'Delete an instance (deregisters provider webhooks)'],
  ['put', '/instances/{id}/events/enabled', 'Pause or resume events'],
  ['post', '/instances/{id}/events/poll', 'Poll now'],
  ['post', '/instances/{id}/check', 'Check the instance against its provider, read-only (credentials, scopes, first pages, webhook, rate limit)'],
  ['get', '/instances/{id}/status', 'Per object type poll status'],
  ['get', '/instances/{id}/activity', 'Events recorded and notifications delivered per hour over the last 24 hours'],
  ['get', '/instances/{id}/events', 'Normalized events, newest first'],
  ['get', '/events/{id}', 'One event'],
  ['get', '/notifications/{id}', 'A notification with its attempts'],
  ['post', '/notifications/{id}/retry', 'Send a notification again'],
  ['get', '/instances/{id}/notifications', "An instance's notifications with their attempt counts, newest first"],
  ['post', '/instances/{id}/notifications/replay', 'Re-queue notifications since a time'],
  ['get', '/instances/{id}/signing-secret', 'The Standard Webhooks signing secret'],
  ['post', '/instances/{id}/signing-secret/rotate', 'Rotate the signing secret'],
  ['get', '/instances/{id}/webhooks/receipts', 'The webhook ingress log (without bodies)'],
  ['get', '/instances/{id}/webhooks/receipts/{receiptId}', 'One webhook receipt with its body'],
  ['post', '/instances/{id}/webhooks/receipts/{receiptId}/retry', 'Map a failed webhook receipt again'],
  ['post', '/instances/{id}/requests/{template}', 'Invoke a request template'],
  ['get', '/instances/{id}/requests/log', 'Request template invocations'],
  ['get', '/instances/{id}/schedules', 'List scheduled events'],
  ['post', '/instances/{id}/schedules', 'Create a scheduled event'],
  ['get', '/instances/{id}/schedules/{name}', 'One scheduled event'],
  ['put', '/instances/{id}/schedules/{name}', 'Change a scheduled event'],
  ['delete', '/instances/{id}/schedules/{name}', 'Delete a scheduled event'],
  ['post', '/connect/sessions', 'Create a connect session: {token, url, expiresAt} of the hosted connect page (docs/connect.md)'],
  ['get', '/connect/sessions/{sessionId}', 'Where a connect session stands (never its token)'],
  ['get', '/connect/{token}', 'The hosted connect page (HTML; no bearer, the token is the secret)', true],
  ['post', '/connect/{token}', 'The connect form (HTML form post from its own page)', true],
  ['get', '/oauth/callback', "The OAuth redirect URI of connect sessions (redirects to the app's success or error URL)", true],
  ['get', '/health', 'Liveness (no auth, no database)', true],
  ['get', '/health/ready', 'Readiness: connected and migrated (no auth)', true],
  ['get', '/metrics', 'Prometheus metrics (bearer token unless metrics.public)', true],
  ['post', '/hooks/{token}', 'Webhook ingress (no bearer; the token is the secret)', true],
  ['get', '/hooks/{token}', "A provider's verification handshake, when the connector declares one (405 otherwise)", true],
  ['get', '/openapi.json', 'This document (no auth)', true],
  ['get', '/console', 'The web console page (no auth: it holds no data)', true],
  ...CONSOLE_FILES.map((name): [string, string, string, boolean] => ['get', `/console/${name}`, 'A web console asset (no auth)', true]),
];

/** Answers that are not JSON; every other route answers JSON, errors as {code, message, details}. */
const CONTENT: Record<string, Record<string, object>> = {
  'get /metrics': { 'text/plain; version=0.0.4': {} },
  // The handshake echoes the provider's challenge as the connector says: text or JSON.
  'get /hooks/{token}': { 'text/plain': {}, 'application/json': {} },
  'get /console': { 'text/html': {} },
  ...Object.fromEntries(CONSOLE_FILES.map((name) => [`get /console/${name}`, { [name.endsWith('.css') ? 'text/css' : 'text/javascript']: {} }])),
};

/** Query parameters that change what a route does (paging and filters are in docs/api.md). */
const QUERY: Record<string, Array<{ name: string; description: string }>> = {
  'get /instances/{id}/notifications': [{ name: 'status', description: 'only notifications in this state: pending, delivered or dead' }],
  'put /elements/{key}': [{ name: 'moveSecrets', description: "true: replace even though instances' stored secrets then go to another host" }],
  'post /connectors/draft': [
    { name: 'objects', description: 'object names or collection paths to draft, comma-separated (default: every list operation)' },
    { name: 'key', description: "the connector's key (default: from the description's title)" },
  ],
  'get /elements/{key}/oauth/url': [
    { name: 'apiKey', description: 'the client id' },
    { name: 'callbackUrl', description: 'the redirect URI (http or https)' },
    { name: 'scope', description: "replaces the connector's scopes" },
    { name: 'state', description: 'generated when not given; the answer carries it' },
    { name: 'requestToken', description: 'OAuth 1.0a: the request token from /oauth/token' },
  ],
};

export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [method, path, summary, open] of ROUTES) {
    const full = open ? path : `/elements/api-v2${path}`;
    const parameters = [
      ...[...path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } })),
      ...(QUERY[`${method} ${path}`] ?? []).map((q) => ({ ...q, in: 'query', schema: { type: 'string' } })),
    ];
    paths[full] ??= {};
    paths[full][method] = {
      summary,
      ...(parameters.length ? { parameters } : {}),
      // /metrics sits at the root but needs the token unless metrics.public is set.
      ...(open && path !== '/metrics' ? { security: [] } : {}),
      responses: {
        default: {
          description: 'JSON unless said otherwise; errors are {code, message, details}',
          content: CONTENT[`${method} ${path}`] ?? { 'application/json': {} },
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'pollgate', version, description: 'Event gateway: polling and webhooks in, normalized signed callbacks out. See docs/api.md.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  };
}
