import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startOAuthServer, type OAuthProvider } from '../auth/helpers.js';
import { docOAuthInstanceJson } from '../providers/catalog.js';
import { GitHubProvider } from '../providers/github/github.js';

/**
 * The instance check of an OAuth 2.0 connector in webhook mode, against the GitHub emulator (every
 * request checked against GitHub's OpenAPI description) and an independent OAuth server: the
 * scopes the token answer granted against the connector's, the hook looked up with GET …/hooks/{id},
 * the rate-limit headroom from GitHub's x-ratelimit-* headers.
 */
type Line = { name: string; status: string; detail: string; details?: Record<string, unknown> };
type Report = { ok: boolean; status: string; checks: Line[] };

describe('instance check: GitHub with OAuth 2.0 in webhook mode', () => {
  let t: TestGateway;
  let oauth: OAuthProvider;
  let github: GitHubProvider;
  const doc = docOAuthInstanceJson('github');

  beforeEach(async () => {
    t = await startGateway();
    oauth = await startOAuthServer({ token: '/login/oauth/access_token', authorize: '/login/oauth/authorize' });
    github = await GitHubProvider.start({
      owner: String(doc.configuration['github.owner']),
      repo: String(doc.configuration['github.repo']),
      token: 'not-the-oauth-token',
    });
    github.now = () => t.clock.now();
    github.acceptsToken = (token) => oauth.valid.has(token);
    await github.openIssue('first');
    await github.comment(1, 'a comment');
  });

  afterEach(async () => {
    // Every request the check made with the OAuth token must be valid for GitHub's own description.
    expect(github.invalidRequests.map((r) => `${r.request.method} ${r.request.path}: ${r.errors.join('; ')}`)).to.deep.equal([]);
    await t.close();
    await github.close();
    await oauth.close();
  });

  /** An instance whose code exchange answers `scope` as given (left out when undefined). */
  async function create(scope: string | undefined): Promise<number> {
    oauth.next.push((answer) => {
      if (scope === undefined) delete answer.body.scope;
      else answer.body.scope = scope;
    });
    const res = await t.api.post('instances', {
      json: {
        ...doc,
        providerData: { code: 'code-from-the-redirect' },
        configuration: { ...doc.configuration, 'oauth.base.url': oauth.url, 'base.url': github.url, 'event.vendor.type': 'webhook' },
      },
    });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    return (res.body as unknown as { id: number }).id;
  }

  const check = async (id: number) => (await t.api.post(`instances/${id}/check`)).body as unknown as Report;
  const line = (r: Report, name: string) => r.checks.find((c) => c.name === name)!;

  it('every line ok with the granted scopes; the hook deleted at GitHub fails the webhook line', async () => {
    // GitHub separates granted scopes with commas.
    const id = await create('repo,admin:repo_hook');
    const report = await check(id);
    expect(
      report.checks.map((c) => [c.name, c.status]),
      JSON.stringify(report.checks),
    ).to.deep.equal([
      ['credentials', 'ok'],
      ['scopes', 'ok'],
      ['object:issues', 'ok'],
      ['object:comments', 'ok'],
      ['webhook', 'ok'],
      ['rateLimit', 'ok'],
    ]);
    expect(report).to.include({ ok: true, status: 'ok' });
    expect(line(report, 'rateLimit').details).to.include({ header: 'X-RateLimit-Remaining', limit: 5000 });
    expect(github.operations).to.include.members(['issues/list-for-repo', 'issues/list-comments-for-repo', 'repos/get-webhook']);

    const [hookId] = github.hooks.keys();
    github.hooks.clear();
    const gone = await check(id);
    expect(gone).to.include({ ok: false, status: 'failed' });
    expect(line(gone, 'webhook').status).to.equal('failed');
    expect(line(gone, 'webhook').detail).to.match(new RegExp(`^registration ${hookId}: gone: the provider answered HTTP 404`));
  });

  it('a grant without a needed scope fails the scopes line naming it; a token answer without scope is a warning', async () => {
    const narrow = await check(await create('repo'));
    expect(line(narrow, 'scopes')).to.deep.include({ status: 'failed', detail: 'missing admin:repo_hook (granted: repo)' });
    expect(narrow.status).to.equal('failed');

    const unsaid = await check(await create(undefined));
    expect(line(unsaid, 'scopes').status).to.equal('warning');
    expect(line(unsaid, 'scopes').detail).to.match(/could not be verified: the provider did not say which scopes it granted/);
  });
});
