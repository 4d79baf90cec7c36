import { createHmac, randomUUID } from 'node:crypto';
import got from 'got';
import { TZDate } from '@date-fns/tz';
import { ProviderEmulator } from '../emulator-base.js';
import { EmulatedProvider, type CannedResponse, type RecordedRequest, type RouteRequest } from '../../../sandbox/provider-server.js';

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
 */
type Issue = { id: string; key: string; self: string; fields: Record<string, unknown> & { created: string; updated: string; project: { key: string } } };
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
  readonly deliveries: Array<{ id: string; body: string; headers: Record<string, string>; status: number }> = [];
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
  static async start(o: { email: string; apiToken: string; oauth?: JiraOAuth }): Promise<JiraProvider> {
    const provider = await EmulatedProvider.start();
    const jira = new JiraProvider(provider, o.email, o.apiToken);
    const expected = `Basic ${Buffer.from(`${o.email}:${o.apiToken}`).toString('base64')}`;
    const bearer = (req: RecordedRequest) => (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const passedOn = new Set(['/authorize', '/oauth/token']);
    provider.inspect = (req) => {
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
        onSite((req) => jira.register(req)),
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
    for (const hook of this.webhooks.values()) {
      if (!hook.events.includes(webhookEvent)) continue;
      const id = randomUUID();
      const headers: Record<string, string> = {
        'content-type': 'application/json; charset=utf-8',
        'user-agent': 'Atlassian Webhook HTTP Client',
        'x-atlassian-webhook-identifier': id,
        'x-atlassian-webhook-retry': '0',
        ...(hook.secret ? { 'x-hub-signature': `sha256=${createHmac('sha256', hook.secret).update(body).digest('hex')}` } : {}),
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
