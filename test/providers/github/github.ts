import { randomUUID } from 'node:crypto';
import got from 'got';
import { sign } from '@octokit/webhooks-methods';
import { createRequire } from 'node:module';
import { ProviderEmulator } from '../emulator-base.js';
import { EmulatedProvider, type CannedResponse, type RecordedRequest, type RouteRequest } from '../../../sandbox/provider-server.js';
import { openApiFromPackage, validateRequest } from '../openapi-validator.js';

/**
 * An emulated GitHub REST API (api.github.com, version 2022-11-28) for one repository, as GitHub
 * documents it:
 * - every request is checked against GitHub's own OpenAPI description (npm `@octokit/openapi`);
 *   one it calls invalid is answered 422 and kept in `invalidRequests`;
 * - `Authorization: Bearer <token>` (or `token <token>`), else 401 "Bad credentials";
 * - GET /repos/{owner}/{repo}/issues (`state` open|closed|all, `since` = updated at or after,
 *   `sort` created|updated|comments, `direction`, `per_page` ≤ 100, `page`) and
 *   GET /repos/{owner}/{repo}/issues/comments (`sort` created|updated, `direction`, `since`),
 *   a root array, `Link` rel="next"/"last" whose URLs use GitHub's `/repositories/{id}/…` form
 *   (served too), `x-ratelimit-*` headers on every answer;
 * - POST /repos/{owner}/{repo}/hooks → 201 hook (the secret shown as "********"), then a `ping`
 *   delivery; GET /repos/{owner}/{repo}/hooks/{hook_id} → the hook; DELETE … → 204; unknown → 404;
 * - changes made through `openIssue`, `openPullRequest` (listed by /issues with its `pull_request`
 *   key; announced as a `pull_request` event), `editIssue`, `deleteIssue`, `comment`, `editComment`,
 *   `deleteComment` are delivered to every active hook as `issues` / `issue_comment` events, with
 *   payloads from `@octokit/webhooks-examples` around the current objects, signed by
 *   `@octokit/webhooks-methods` (`X-Hub-Signature-256`), with `X-GitHub-Event` and `X-GitHub-Delivery`.
 */
export const GITHUB_OPENAPI = '@octokit/openapi/generated/api.github.com.json';
const DOCS = 'https://docs.github.com/rest';
const REPOSITORY_ID = 1296269;

type Issue = Record<string, unknown> & { id: number; number: number; state: string; created_at: string; updated_at: string; comments: number };
type IssueComment = Record<string, unknown> & { id: number; issue_number: number; created_at: string; updated_at: string };
export interface Hook {
  id: number;
  events: string[];
  active: boolean;
  /** Mutable: tests point a hook made with a placeholder public URL at the gateway's real port. */
  config: { url: string; content_type: string; secret?: string; insecure_ssl: string };
}
export interface Delivery {
  id: string;
  event: string;
  body: string;
  headers: Record<string, string>;
  status?: number;
}

type WebhookExample = { name: string; actions: string[]; examples: Array<Record<string, unknown>> };
const webhookExamples = createRequire(import.meta.url)('@octokit/webhooks-examples') as WebhookExample[];
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const exampleOf = (event: string, action?: string): Record<string, unknown> => {
  const definition = webhookExamples.find((d) => d.name === event);
  if (!definition?.examples.length) throw new Error(`@octokit/webhooks-examples has no ${event} example`);
  if (action !== undefined && !definition.actions.includes(action)) throw new Error(`GitHub sends no ${event} event with action ${action}`);
  // Not every action has its own example: another action's example carries the same fields.
  const example = definition.examples.find((e) => (e as { action?: string }).action === action) ?? definition.examples[0];
  return { ...(structuredClone(example) as unknown as Record<string, unknown>), ...(action === undefined ? {} : { action }) };
};

export class GitHubProvider extends ProviderEmulator {
  readonly hooks = new Map<number, Hook>();
  readonly deliveries: Delivery[] = [];
  readonly invalidRequests: Array<{ request: RecordedRequest; errors: string[] }> = [];
  /** Operations the description matched, in order (e.g. "issues/list-for-repo"). */
  readonly operations: string[] = [];
  private readonly issues = new Map<number, Issue>();
  private readonly comments = new Map<number, IssueComment>();
  private nextIssueId = 1_000_001;
  private nextCommentId = 2_000_001;
  private nextHookId = 400_001;
  private remaining = 5000;
  /** Other tokens to accept besides `token` (the OAuth tokens a test's OAuth server issued). */
  acceptsToken?: (token: string) => boolean;

  private constructor(
    provider: EmulatedProvider,
    readonly owner: string,
    readonly repo: string,
    readonly token: string,
  ) {
    super(provider);
  }

  static async start(o: { owner: string; repo: string; token: string }): Promise<GitHubProvider> {
    const provider = await EmulatedProvider.start();
    const github = new GitHubProvider(provider, o.owner, o.repo, o.token);
    const description = await openApiFromPackage(GITHUB_OPENAPI);
    provider.inspect = (req) => {
      // GitHub's Link URLs name the repository by id; the description knows only /repos/{owner}/{repo}.
      const alias = `/repositories/${REPOSITORY_ID}/`;
      const path = req.path.startsWith(alias) ? `/repos/${o.owner}/${o.repo}/${req.path.slice(alias.length)}` : req.path;
      const verdict = validateRequest(description, { ...req, path });
      if (verdict.operationId) github.operations.push(verdict.operationId);
      if (verdict.errors.length) {
        github.invalidRequests.push({ request: req, errors: verdict.errors });
        return { status: 422, body: { message: 'Validation Failed', errors: verdict.errors, documentation_url: DOCS } };
      }
      return github.authorized(req) ? undefined : { status: 401, body: { message: 'Bad credentials', documentation_url: DOCS } };
    };
    for (const base of [`/repos/${o.owner}/${o.repo}`, `/repositories/${REPOSITORY_ID}`]) {
      provider.route('GET', `${base}/issues`, (req) => github.list(req, [...github.issues.values()], ['created', 'updated', 'comments']));
      provider.route('GET', `${base}/issues/comments`, (req) => github.list(req, [...github.comments.values()], ['created', 'updated']));
    }
    provider.route('POST', `/repos/${o.owner}/${o.repo}/hooks`, (req) => github.createHook(req));
    provider.route('DELETE', `/repos/${o.owner}/${o.repo}/hooks/:id`, (req) => github.deleteHook(Number(req.params.id)));
    provider.route('GET', `/repos/${o.owner}/${o.repo}/hooks/:id`, (req) => github.getHook(Number(req.params.id)));
    return github;
  }

  // -------------------------------------------------------------------------------------------
  // Changes (each delivered to the hooks)

  async openIssue(title: string): Promise<Issue> {
    const issue = this.newIssue(title, 'I');
    await this.push('issues', 'opened', { issue });
    return issue;
  }

  /**
   * A pull request: GitHub lists it among the issues, marked by its `pull_request` key ("Issues"
   * endpoints may return both issues and pull requests … You can identify pull requests by the
   * `pull_request` key", List repository issues), and announces it by a `pull_request` event,
   * never an `issues` one.
   */
  async openPullRequest(title: string): Promise<Issue> {
    const pr = this.newIssue(title, 'PR');
    pr.pull_request = {
      url: String(pr.url).replace('/issues/', '/pulls/'),
      html_url: `https://github.com/${this.owner}/${this.repo}/pull/${pr.number}`,
      merged_at: null,
    };
    await this.push('pull_request', 'opened', { number: pr.number, pull_request: { ...pr } });
    return pr;
  }

  /** A new open issue (or pull request: `nodePrefix` PR) stored under the next number. */
  private newIssue(title: string, nodePrefix: 'I' | 'PR'): Issue {
    const at = iso(this.provider.now());
    const id = this.nextIssueId++;
    const number = this.issues.size + 1;
    const issue: Issue = {
      url: `${this.url}/repos/${this.owner}/${this.repo}/issues/${number}`,
      id,
      node_id: `${nodePrefix}_${id}`,
      number,
      title,
      state: 'open',
      user: { login: 'octocat', id: 1 },
      labels: [],
      comments: 0,
      body: null,
      created_at: at,
      updated_at: at,
      closed_at: null,
      author_association: 'OWNER',
    };
    this.issues.set(number, issue);
    return issue;
  }

  async editIssue(number: number, fields: Record<string, unknown>, action = 'edited'): Promise<Issue> {
    const issue = this.issue(number);
    Object.assign(issue, fields, { updated_at: iso(this.provider.now()) });
    await this.push('issues', action, { issue });
    return issue;
  }

  async deleteIssue(number: number): Promise<void> {
    const issue = this.issue(number);
    this.issues.delete(number);
    await this.push('issues', 'deleted', { issue });
  }

  async comment(number: number, body: string): Promise<IssueComment> {
    const issue = this.issue(number);
    const at = iso(this.provider.now());
    const id = this.nextCommentId++;
    const comment: IssueComment = {
      url: `${this.url}/repos/${this.owner}/${this.repo}/issues/comments/${id}`,
      id,
      node_id: `IC_${id}`,
      issue_number: number,
      issue_url: issue.url,
      body,
      user: { login: 'octocat', id: 1 },
      created_at: at,
      updated_at: at,
      author_association: 'OWNER',
    };
    this.comments.set(id, comment);
    Object.assign(issue, { comments: issue.comments + 1, updated_at: at });
    await this.push('issue_comment', 'created', { issue, comment });
    return comment;
  }

  async editComment(id: number, body: string): Promise<IssueComment> {
    const comment = this.comments.get(id);
    if (!comment) throw new Error(`no comment ${id}`);
    Object.assign(comment, { body, updated_at: iso(this.provider.now()) });
    await this.push('issue_comment', 'edited', { issue: this.issue(comment.issue_number), comment });
    return comment;
  }

  /** Sends a delivery again as GitHub's "Redeliver" does: same body, same X-GitHub-Delivery. */
  async redeliver(delivery: Delivery, hook: Hook): Promise<number> {
    return this.post(hook, delivery);
  }

  private issue(number: number): Issue {
    const issue = this.issues.get(number);
    if (!issue) throw new Error(`no issue #${number}`);
    return issue;
  }

  // -------------------------------------------------------------------------------------------
  // Webhook deliveries

  private async push(event: string, action: string, objects: Record<string, unknown>): Promise<void> {
    const payload = { ...exampleOf(event, action), ...structuredClone(objects) };
    for (const hook of this.hooks.values()) {
      if (hook.active && (hook.events.includes(event) || hook.events.includes('*'))) await this.deliver(hook, event, payload);
    }
  }

  async deliver(hook: Hook, event: string, payload: Record<string, unknown>): Promise<Delivery> {
    const body = JSON.stringify(payload);
    const delivery: Delivery = {
      id: randomUUID(),
      event,
      body,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'GitHub-Hookshot/044aadd',
        'x-github-event': event,
        'x-github-hook-id': String(hook.id),
        'x-github-hook-installation-target-type': 'repository',
        'x-github-hook-installation-target-id': String(REPOSITORY_ID),
        ...(hook.config.secret ? { 'x-hub-signature-256': await sign(hook.config.secret, body) } : {}),
      },
    };
    delivery.headers['x-github-delivery'] = delivery.id;
    this.deliveries.push(delivery);
    delivery.status = await this.post(hook, delivery);
    return delivery;
  }

  private async post(hook: Hook, delivery: Delivery): Promise<number> {
    const res = await got.post(hook.config.url, {
      body: delivery.body,
      headers: delivery.headers,
      throwHttpErrors: false,
      retry: { limit: 0 },
      timeout: { request: 10_000 },
    });
    return res.statusCode;
  }

  // -------------------------------------------------------------------------------------------
  // REST endpoints

  private authorized(req: RecordedRequest): boolean {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ') && this.acceptsToken?.(auth.slice(7))) return true;
    return auth === `Bearer ${this.token}` || auth === `token ${this.token}`;
  }

  private rateHeaders(): Record<string, string> {
    this.remaining = Math.max(0, this.remaining - 1);
    return {
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': String(this.remaining),
      'x-ratelimit-used': String(5000 - this.remaining),
      'x-ratelimit-reset': String(Math.floor(this.provider.now() / 1000) + 3600),
      'x-ratelimit-resource': 'core',
      'x-github-api-version-selected': '2022-11-28',
    };
  }

  private list(
    req: RouteRequest,
    all: Array<Record<string, unknown> & { id: number; created_at: string; updated_at: string }>,
    sorts: string[],
  ): CannedResponse {
    const q = req.query;
    // https://docs.github.com/rest/issues/issues#list-repository-issues: "List issues in a repository.
    // Only open issues will be listed." — `state` "Indicates the state of the issues to return"
    // (open, closed or all; default open).
    const state = q.state ?? 'open';
    const sort = q.sort ?? 'created';
    if (!sorts.includes(sort)) return { status: 422, body: { message: 'Validation Failed', documentation_url: DOCS } };
    // `since`: "Only show results that were last updated after the given time." (same page, and List
    // issue comments for a repository). A record updated exactly at `since` is listed here too; the
    // connector's overlap makes either reading lose nothing.
    const since = q.since === undefined ? undefined : Date.parse(q.since);
    // `per_page`: "The number of results per page (max 100)." (default 30 in the same description).
    const perPage = Math.min(100, Number(q.per_page ?? 30));
    const page = Number(q.page ?? 1);
    const desc = (q.direction ?? 'desc') === 'desc';
    const key = (r: Record<string, unknown>) =>
      sort === 'comments' ? Number(r.comments) : Date.parse(String(r[sort === 'updated' ? 'updated_at' : 'created_at']));
    const rows = all
      .filter((r) => state === 'all' || r.state === undefined || r.state === state)
      .filter((r) => since === undefined || Date.parse(r.updated_at) >= since)
      .sort((a, b) => (key(a) - key(b) || a.id - b.id) * (desc ? -1 : 1));
    const pageRows = rows.slice((page - 1) * perPage, page * perPage);
    const lastPage = Math.max(1, Math.ceil(rows.length / perPage));
    const link = (n: number, rel: string) => {
      const url = new URL(`${this.url}/repositories/${REPOSITORY_ID}${req.path.replace(/^\/(repos\/[^/]+\/[^/]+|repositories\/\d+)/, '')}`);
      for (const [k, v] of Object.entries(q)) url.searchParams.set(k, v);
      url.searchParams.set('page', String(n));
      return `<${url}>; rel="${rel}"`;
    };
    const links = [
      ...(page < lastPage ? [link(page + 1, 'next'), link(lastPage, 'last')] : []),
      ...(page > 1 ? [link(1, 'first'), link(page - 1, 'prev')] : []),
    ];
    return { status: 200, headers: { ...this.rateHeaders(), ...(links.length ? { link: links.join(', ') } : {}) }, body: pageRows };
  }

  private createHook(req: RouteRequest): CannedResponse {
    const body = req.json as { name?: string; active?: boolean; events?: string[]; config: Hook['config'] };
    const id = this.nextHookId++;
    const hook: Hook = {
      id,
      events: body.events ?? ['push'],
      active: body.active ?? true,
      config: { ...{ content_type: 'form', insecure_ssl: '0' }, ...body.config },
    };
    this.hooks.set(id, hook);
    return { status: 201, headers: { ...this.rateHeaders(), location: `${this.url}/repos/${this.owner}/${this.repo}/hooks/${id}` }, body: this.hookBody(hook) };
  }

  private getHook(id: number): CannedResponse {
    const hook = this.hooks.get(id);
    if (!hook) return { status: 404, body: { message: 'Not Found', documentation_url: DOCS } };
    return { status: 200, headers: this.rateHeaders(), body: this.hookBody(hook) };
  }

  /** A hook as GitHub shows it (its secret masked). */
  private hookBody(hook: Hook): Record<string, unknown> {
    const { id } = hook;
    const at = iso(this.provider.now());
    const base = `${this.url}/repos/${this.owner}/${this.repo}/hooks/${id}`;
    const { secret, ...shownConfig } = hook.config;
    return {
      type: 'Repository',
      id,
      name: 'web',
      active: hook.active,
      events: hook.events,
      config: { ...shownConfig, ...(secret ? { secret: '********' } : {}) },
      updated_at: at,
      created_at: at,
      url: base,
      test_url: `${base}/test`,
      ping_url: `${base}/pings`,
      deliveries_url: `${base}/deliveries`,
      last_response: { code: null, status: 'unused', message: null },
    };
  }

  /** GitHub pings a new hook; tests call this once they pointed the hook at the gateway. */
  async ping(hook: Hook): Promise<Delivery> {
    const payload = exampleOf('ping');
    payload.hook_id = hook.id;
    payload.hook = { ...(payload.hook as object), id: hook.id, events: hook.events };
    return this.deliver(hook, 'ping', payload);
  }

  private deleteHook(id: number): CannedResponse {
    if (!this.hooks.delete(id)) return { status: 404, body: { message: 'Not Found', documentation_url: DOCS } };
    return { status: 204, headers: this.rateHeaders() };
  }
}
