import { createHmac, randomUUID } from 'node:crypto';
import got from 'got';
import { SignJWT } from 'jose';
import { TZDate } from '@date-fns/tz';
import { ProviderEmulator } from '../emulator-base.js';
import { EmulatedProvider, type CannedResponse, type RecordedRequest, type RouteRequest } from '../../../sandbox/provider-server.js';
import { openApiFromPackage, validateRequest } from '../openapi-validator.js';

/**
 * An emulated Jira Cloud site (REST API v3 and admin webhooks) as Atlassian documents it:
 * - basic auth `email:api_token`, else 401 with Jira's `errorMessages` body;
 * - GET /rest/api/3/search/jql — `jql` (this emulator understands `updated >= "yyyy-MM-dd HH:mm"`
 *   or `"yyyy/MM/dd HH:mm"`, optionally `AND project = KEY`, and `ORDER BY updated ASC|DESC`; an
 *   unbounded query is refused as Jira refuses it), `fields` (default: only `id`; `*navigable` or
 *   `*all` or a list), `maxResults` (default 50, at most 100), `nextPageToken`; the answer is
 *   `{issues, nextPageToken?, isLast}` — the last page carries no token. JQL dates are minutes in
 *   the time zone of the user's profile, `userTimeZone` (JQL fields, Updated: "the search results
 *   will be relative to your configured time zone"); `fields.updated` reads `2026-11-25T10:00:00.000+0000`;
 * - GET /rest/api/3/myself → the calling user, with that profile's `timeZone` (an IANA zone);
 * - POST /rest/webhooks/1.0/webhook `{name, url, events, filters?, excludeBody?, secret?}` → 201 with
 *   `self` (…/webhook/<id>, the only id in the answer); DELETE /rest/webhooks/1.0/webhook/{id} → 204;
 * - changes made through `createIssue`, `updateIssue`, `deleteIssue` are delivered to each webhook
 *   subscribed to the event, as `{timestamp, webhookEvent, issue_event_type_name, user, issue,
 *   changelog?}` with `X-Atlassian-Webhook-Identifier` and, when the webhook has a secret,
 *   `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>` (Atlassian's recipe).
 * - an OAuth 2.0 app's webhooks ("dynamic webhooks", https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-webhooks/,
 *   the operations' descriptions in the vendored subset): POST /rest/api/3/webhook `{url, webhooks:
 *   [{events, jqlFilter}]}` → `{webhookRegistrationResult: [{createdWebhookId}]}` — "Only Connect and
 *   OAuth 2.0 apps can use this operation" (basic auth: 403); PUT /rest/api/3/webhook/refresh
 *   `{webhookIds}` → `{expirationDate}` — "Webhooks registered through the REST API expire after 30
 *   days. Call this operation to keep them alive." and "Unrecognized webhook IDs (those that are not
 *   found or belong to other apps) are ignored."; DELETE /rest/api/3/webhook `{webhookIds}` → 202;
 *   GET /rest/api/3/webhook → a page of the app's live webhooks (`values`).
 *   A lapsed webhook gets no deliveries and counts as not found. Its deliveries carry no
 *   X-Hub-Signature (the description has no secret for it) but `Authorization: Bearer <JWT>`
 *   signed HS256 with the app's client secret (`oauth.clientSecret`), after the "Webhooks
 *   authentication for OAuth 2.0 apps" section of https://developer.atlassian.com/cloud/jira/platform/webhooks/
 *   as an Atlassian Community thread describes it ("secured with bearer auth", decoded "using my
 *   client secret"); the page itself and the token's claims were not read: this JWT carries only
 *   `iat` and `exp`.
 * - admin webhooks (/rest/webhooks/1.0/webhook) refuse an OAuth bearer token (403): as issue reports
 *   have it, 3LO apps cannot use that admin endpoint (modelled here; no Atlassian sentence was read
 *   for it in this session).
 * - every request to the REST API v3 is first checked against the operations of Atlassian's
 *   published description the connector uses (`openapi-subset.json`, written by
 *   scripts/openapi-subset.ts, recipe scripts/openapi-subsets/jira.ts), OAuth's `/ex/jira/{cloudId}`
 *   prefix taken off; an invalid one is answered 400 and kept in `invalidRequests`. The admin
 *   webhook endpoint and the OAuth endpoints are not in that description and are not checked.
 */
const JIRA_OPENAPI = new URL('./openapi-subset.json', import.meta.url).pathname;
type Issue = { id: string; key: string; self: string; fields: Record<string, unknown> & { created: string; updated: string; project: { key: string } } };
/** "Webhooks registered through the REST API expire after 30 days." (refreshWebhooks, REST v3). */
export const DYNAMIC_WEBHOOK_LIFE_MS = 30 * 86_400_000;
export interface DynamicWebhook {
  id: number;
  url: string;
  events: string[];
  jqlFilter: string;
  expiresAt: number;
}
export interface JiraWebhook {
  id: number;
  name: string;
  /** Mutable: tests point a webhook made with a placeholder public URL at the gateway's real port. */
  url: string;
  events: string[];
  secret?: string;
}

const jiraDate = (ms: number) => new Date(ms).toISOString().replace('Z', '+0000');
const errors = (status: number, ...messages: string[]): CannedResponse => ({ status, body: { errorMessages: messages, errors: {} } });
const JQL =
  /^\s*updated\s*>=\s*"(\d{4})[-/](\d{2})[-/](\d{2}) (\d{2}):(\d{2})"\s*(?:AND\s+project\s*=\s*"?([A-Z][A-Z0-9]*)"?\s*)?(?:ORDER\s+BY\s+updated\s+(ASC|DESC))?\s*$/i;

export class JiraProvider extends ProviderEmulator {
  readonly webhooks = new Map<number, JiraWebhook>();
  readonly dynamicWebhooks = new Map<number, DynamicWebhook>();
  private nextDynamicId = 10000;
  readonly deliveries: Array<{ id: string; body: string; headers: Record<string, string>; status: number }> = [];
  readonly invalidRequests: Array<{ request: RecordedRequest; errors: string[] }> = [];
  private readonly issues = new Map<string, Issue>();
  private nextId = 10001;
  private nextWebhookId = 1;
  private readonly counters = new Map<string, number>();
  /** The API user's profile time zone: JQL dates are read in it. */
  userTimeZone = 'UTC';

  private constructor(
    provider: EmulatedProvider,
    readonly email: string,
    readonly apiToken: string,
  ) {
    super(provider);
  }

  /**
   * `oauth` adds Atlassian's OAuth 2.0 (3LO) side on the same origin, as a test's `oauth.base.url`
   * sees it: the API also under /ex/jira/{cloudId} for bearer tokens `accepts`, GET
   * /oauth/token/accessible-resources (the sites a token may access), and /authorize and POST
   * /oauth/token passed on to an independent OAuth server at `authServer`.
   */
  private clientSecret?: string;

  static async start(o: { email: string; apiToken: string; oauth?: JiraOAuth }): Promise<JiraProvider> {
    const provider = await EmulatedProvider.start();
    const jira = new JiraProvider(provider, o.email, o.apiToken);
    jira.clientSecret = o.oauth?.clientSecret;
    const expected = `Basic ${Buffer.from(`${o.email}:${o.apiToken}`).toString('base64')}`;
    const bearer = (req: RecordedRequest) => (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const passedOn = new Set(['/authorize', '/oauth/token']);
    const description = await openApiFromPackage(JIRA_OPENAPI);
    provider.inspect = (req) => {
      const path = req.path.replace(/^\/ex\/jira\/[^/]+/, '');
      if (path.startsWith('/rest/api/3/')) {
        const verdict = validateRequest(description, { ...req, path });
        if (verdict.errors.length) {
          jira.invalidRequests.push({ request: req, errors: verdict.errors });
          return errors(400, ...verdict.errors);
        }
      }
      if (o.oauth && passedOn.has(req.path)) return undefined;
      if (o.oauth?.accepts(bearer(req))) return undefined;
      return req.headers.authorization === expected ? undefined : errors(401, 'You are not authenticated. Authentication required to perform this operation.');
    };
    const bases = ['', ...(o.oauth ? ['/ex/jira/:cloudId'] : [])];
    const onSite = (handler: (req: RouteRequest) => CannedResponse) => (req: RouteRequest) =>
      req.params.cloudId === undefined || req.params.cloudId === o.oauth?.cloudId ? handler(req) : errors(404, 'Site not found.');
    for (const base of bases) {
      provider.route(
        'GET',
        `${base}/rest/api/3/search/jql`,
        onSite((req) => jira.search(req)),
      );
      provider.route(
        'GET',
        `${base}/rest/api/3/myself`,
        onSite(() => ({
          status: 200,
          body: {
            accountId: '5b10ac8d82e05b22cc7d4ef5',
            accountType: 'atlassian',
            emailAddress: o.email,
            displayName: 'Ada',
            active: true,
            timeZone: jira.userTimeZone,
            locale: 'en_US',
          },
        })),
      );
      provider.route(
        'POST',
        `${base}/rest/webhooks/1.0/webhook`,
        onSite((req) => (isBearer(req) ? errors(403, 'OAuth 2.0 apps cannot register admin webhooks.') : jira.register(req))),
      );
      provider.route(
        'POST',
        `${base}/rest/api/3/webhook`,
        onSite((req) => jira.registerDynamic(req)),
      );
      provider.route(
        'GET',
        `${base}/rest/api/3/webhook`,
        onSite((req) => jira.listDynamic(req)),
      );
      provider.route(
        'PUT',
        `${base}/rest/api/3/webhook/refresh`,
        onSite((req) => jira.refreshDynamic(req)),
      );
      provider.route(
        'DELETE',
        `${base}/rest/api/3/webhook`,
        onSite((req) => {
          if (!isBearer(req)) return errors(403, 'Only Connect and OAuth 2.0 apps can use this operation.');
          for (const id of (req.json as { webhookIds: number[] }).webhookIds) jira.dynamicWebhooks.delete(id);
          return { status: 202 };
        }),
      );
      provider.route(
        'DELETE',
        `${base}/rest/webhooks/1.0/webhook/:id`,
        onSite((req) => (jira.webhooks.delete(Number(req.params.id)) ? { status: 204 } : errors(404, 'Webhook not found.'))),
      );
    }
    if (o.oauth) {
      const { cloudId, siteUrl, authServer } = o.oauth;
      provider.route('GET', '/oauth/token/accessible-resources', () => ({
        status: 200,
        body: [
          {
            id: 'a5f0e1d2-0000-4000-8000-000000000000',
            url: 'https://other.atlassian.net',
            name: 'other',
            scopes: ['read:jira-work'],
            avatarUrl: 'https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/flag.png',
          },
          {
            id: cloudId,
            url: siteUrl,
            name: new URL(siteUrl).hostname.split('.')[0],
            scopes: ['read:jira-work', 'manage:jira-webhook'],
            avatarUrl: 'https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png',
          },
        ],
      }));
      for (const [method, path] of [
        ['GET', '/authorize'],
        ['POST', '/oauth/token'],
      ])
        provider.route(method, path, (req) => passOn(authServer, req));
    }
    return jira;
  }

  // -------------------------------------------------------------------------------------------
  // Changes

  async createIssue(project: string, summary: string): Promise<Issue> {
    const id = String(this.nextId++);
    const n = (this.counters.get(project) ?? 0) + 1;
    this.counters.set(project, n);
    const at = jiraDate(this.provider.now());
    const issue: Issue = {
      id,
      key: `${project}-${n}`,
      self: `${this.url}/rest/api/3/issue/${id}`,
      fields: { summary, status: { name: 'To Do' }, issuetype: { name: 'Task' }, project: { key: project }, labels: [], created: at, updated: at },
    };
    this.issues.set(id, issue);
    await this.push('jira:issue_created', 'issue_created', issue);
    return issue;
  }

  async updateIssue(id: string, fields: Record<string, unknown>): Promise<Issue> {
    const issue = this.issue(id);
    const items = Object.entries(fields).map(([field, to]) => ({ field, fromString: String(issue.fields[field] ?? ''), toString: String(to) }));
    Object.assign(issue.fields, fields, { updated: jiraDate(this.provider.now()) });
    await this.push('jira:issue_updated', 'issue_generic', issue, { id: String(this.nextId++), items });
    return issue;
  }

  async deleteIssue(id: string): Promise<void> {
    const issue = this.issue(id);
    this.issues.delete(id);
    await this.push('jira:issue_deleted', 'issue_deleted', issue);
  }

  private issue(id: string): Issue {
    const issue = this.issues.get(id);
    if (!issue) throw new Error(`no Jira issue ${id}`);
    return issue;
  }

  private async push(webhookEvent: string, typeName: string, issue: Issue, changelog?: unknown): Promise<void> {
    const body = JSON.stringify({
      timestamp: this.provider.now(),
      webhookEvent,
      issue_event_type_name: typeName,
      user: { accountId: '5b10ac8d82e05b22cc7d4ef5', displayName: 'Ada' },
      issue,
      ...(changelog ? { changelog } : {}),
    });
    const now = this.provider.now();
    const live = [...this.dynamicWebhooks.values()].filter((h) => h.expiresAt > now);
    for (const hook of [...this.webhooks.values(), ...live]) {
      if (!hook.events.includes(webhookEvent)) continue;
      const id = randomUUID();
      const seconds = Math.floor(now / 1000);
      const jwt =
        !('secret' in hook) && this.clientSecret
          ? await new SignJWT({})
              .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
              .setIssuedAt(seconds)
              .setExpirationTime(seconds + 180)
              .sign(new TextEncoder().encode(this.clientSecret))
          : undefined;
      const headers: Record<string, string> = {
        ...(jwt ? { authorization: `Bearer ${jwt}` } : {}),
        'content-type': 'application/json; charset=utf-8',
        'user-agent': 'Atlassian Webhook HTTP Client',
        'x-atlassian-webhook-identifier': id,
        'x-atlassian-webhook-retry': '0',
        ...('secret' in hook && hook.secret ? { 'x-hub-signature': `sha256=${createHmac('sha256', hook.secret).update(body).digest('hex')}` } : {}),
      };
      const res = await got.post(hook.url, { body, headers, throwHttpErrors: false, retry: { limit: 0 } });
      this.deliveries.push({ id, body, headers, status: res.statusCode });
    }
  }

  // -------------------------------------------------------------------------------------------
  // REST endpoints

  private search(req: RouteRequest): CannedResponse {
    const q = req.query;
    const m = JQL.exec(q.jql ?? '');
    if (!q.jql?.trim() || !/updated\s*>=/i.test(q.jql))
      return errors(400, 'Unbounded JQL queries are not allowed here. Please add a search restriction to your query.');
    if (!m) return errors(400, `Error in the JQL Query: this emulator cannot read "${q.jql}".`);
    // The minute is a wall-clock time in the user's zone, not UTC.
    const since = new TZDate(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), this.userTimeZone).getTime();
    const maxResults = Math.min(100, Number(q.maxResults ?? 50));
    if (!Number.isInteger(maxResults) || maxResults < 1) return errors(400, "The value of 'maxResults' must be a positive integer.");
    const desc = (m[7] ?? 'ASC').toUpperCase() === 'DESC';
    const rows = [...this.issues.values()]
      .filter((i) => Date.parse(i.fields.updated) >= since && (!m[6] || i.fields.project.key === m[6]))
      .sort((a, b) => (Date.parse(a.fields.updated) - Date.parse(b.fields.updated) || Number(a.id) - Number(b.id)) * (desc ? -1 : 1));
    const offset = q.nextPageToken === undefined ? 0 : decodeToken(q.nextPageToken);
    if (offset === undefined) return errors(400, 'The provided next page token is invalid or expired.');
    const page = rows.slice(offset, offset + maxResults);
    const isLast = offset + maxResults >= rows.length;
    return {
      status: 200,
      headers: { 'x-ratelimit-nearlimit': 'false' },
      body: {
        issues: page.map((i) => shape(i, q.fields)),
        ...(isLast ? {} : { nextPageToken: Buffer.from(`offset:${offset + maxResults}`).toString('base64url') }),
        isLast,
      },
    };
  }

  private registerDynamic(req: RouteRequest): CannedResponse {
    if (!isBearer(req)) return errors(403, 'Only Connect and OAuth 2.0 apps can use this operation.');
    const body = req.json as { url: string; webhooks: Array<{ events: string[]; jqlFilter: string }> };
    const results = body.webhooks.map((w) => {
      // The description's jqlFilter: "The JQL filter that specifies which issues the webhook is sent for."
      if (!w.jqlFilter.trim()) return { errors: ['The JQL filter is empty.'] };
      const hook: DynamicWebhook = {
        id: this.nextDynamicId++,
        url: body.url,
        events: w.events,
        jqlFilter: w.jqlFilter,
        expiresAt: this.provider.now() + DYNAMIC_WEBHOOK_LIFE_MS,
      };
      this.dynamicWebhooks.set(hook.id, hook);
      return { createdWebhookId: hook.id };
    });
    return { status: 200, body: { webhookRegistrationResult: results } };
  }

  /** The app's live webhooks, a page of `values` (expirationDate in epoch ms, as the description's Webhook has it). */
  private listDynamic(req: RouteRequest): CannedResponse {
    if (!isBearer(req)) return errors(403, 'Only Connect and OAuth 2.0 apps can use this operation.');
    const now = this.provider.now();
    const values = [...this.dynamicWebhooks.values()]
      .filter((h) => h.expiresAt > now)
      .map((h) => ({ id: h.id, events: h.events, jqlFilter: h.jqlFilter, expirationDate: h.expiresAt }));
    return { status: 200, body: { startAt: 0, maxResults: Number(req.query.maxResults ?? 100), total: values.length, isLast: true, values } };
  }

  private refreshDynamic(req: RouteRequest): CannedResponse {
    if (!isBearer(req)) return errors(403, 'Only Connect and OAuth 2.0 apps can use this operation.');
    const now = this.provider.now();
    const expiresAt = now + DYNAMIC_WEBHOOK_LIFE_MS;
    for (const id of (req.json as { webhookIds: number[] }).webhookIds) {
      const hook = this.dynamicWebhooks.get(id);
      // Unrecognized ids (a lapsed webhook is gone) are ignored.
      if (hook && hook.expiresAt > now) hook.expiresAt = expiresAt;
    }
    return { status: 200, body: { expirationDate: jiraDate(expiresAt) } };
  }

  private register(req: RouteRequest): CannedResponse {
    const body = req.json as
      | { name?: string; url?: string; events?: string[]; secret?: string; filters?: Record<string, string>; excludeBody?: boolean }
      | undefined;
    if (!body?.name || !body.url || !Array.isArray(body.events) || body.events.length === 0)
      return errors(400, 'A webhook needs a name, a url and at least one event.');
    const hook: JiraWebhook = { id: this.nextWebhookId++, name: body.name, url: body.url, events: body.events, secret: body.secret };
    this.webhooks.set(hook.id, hook);
    return {
      status: 201,
      body: {
        name: hook.name,
        url: hook.url,
        excludeBody: body.excludeBody ?? false,
        filters: body.filters ?? {},
        events: hook.events,
        enabled: true,
        self: `${this.url}/rest/webhooks/1.0/webhook/${hook.id}`,
        lastUpdatedUser: '5b10ac8d82e05b22cc7d4ef5',
        lastUpdatedDisplayName: 'Ada',
        lastUpdated: this.provider.now(),
      },
    };
  }
}

export interface JiraOAuth {
  cloudId: string;
  /** The site's URL as accessible-resources lists it (`https://acme.atlassian.net`). */
  siteUrl: string;
  authServer: string;
  accepts(token: string): boolean;
  /** The app's client secret: the app's webhooks are sent with a JWT signed with it. */
  clientSecret?: string;
}

/** A request passed on to the OAuth server as it came; its answer (a redirect, a token) comes back as is. */
async function passOn(origin: string, req: RouteRequest): Promise<CannedResponse> {
  const url = `${origin}${req.path}${Object.keys(req.query).length ? `?${new URLSearchParams(req.query)}` : ''}`;
  const headers = Object.fromEntries(
    ['content-type', 'authorization', 'accept'].filter((h) => typeof req.headers[h] === 'string').map((h) => [h, req.headers[h] as string]),
  );
  const res = await got(url, {
    method: req.method as 'GET' | 'POST',
    headers,
    body: req.method === 'POST' ? req.body : undefined,
    followRedirect: false,
    throwHttpErrors: false,
    retry: { limit: 0 },
  });
  const kept = Object.fromEntries(
    ['content-type', 'location', 'cache-control'].filter((h) => typeof res.headers[h] === 'string').map((h) => [h, res.headers[h] as string]),
  );
  return { status: res.statusCode, headers: kept, body: res.body };
}

function isBearer(req: RecordedRequest): boolean {
  return /^Bearer /.test(String(req.headers.authorization ?? ''));
}

function decodeToken(token: string): number | undefined {
  const m = /^offset:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : undefined;
}

/** The issue with the requested fields: none but `id` by default, as the enhanced search does. */
function shape(issue: Issue, fields: string | undefined): Record<string, unknown> {
  if (!fields || fields === 'id') return { id: issue.id };
  const wanted = fields.split(',').map((f) => f.trim());
  const all = wanted.includes('*all') || wanted.includes('*navigable');
  const picked = all ? issue.fields : Object.fromEntries(Object.entries(issue.fields).filter(([k]) => wanted.includes(k)));
  return {
    expand: 'renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations',
    id: issue.id,
    self: issue.self,
    key: issue.key,
    fields: structuredClone(picked),
  };
}
