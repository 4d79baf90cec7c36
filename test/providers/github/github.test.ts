import { expect } from 'chai';
import got from 'got';
import { sign } from '@octokit/webhooks-methods';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { listEvents, pollNow } from '../../poller/helpers.js';
import { createFromDoc, docInstanceJson } from '../catalog.js';
import { GitHubProvider } from './github.js';

const doc = docInstanceJson('github');
const TOKEN = String(doc.configuration['api.key']);
const OWNER = String(doc.configuration['github.owner']);
const REPO = String(doc.configuration['github.repo']);
const post = (url: string, body: string, headers: Record<string, string>) => got.post(url, { body, headers, throwHttpErrors: false, retry: { limit: 0 } });

describe('github connector against the emulated GitHub (requests checked with @octokit/openapi)', () => {
  let t: TestGateway;
  let github: GitHubProvider;

  beforeEach(async () => {
    t = await startGateway();
    github = await GitHubProvider.start({ owner: OWNER, repo: REPO, token: TOKEN });
    github.now = () => t.clock.now();
  });

  afterEach(async () => {
    // Every request pollgate made must be valid for GitHub's own description.
    expect(github.invalidRequests.map((r) => `${r.request.method} ${r.request.path}: ${r.errors.join('; ')}`)).to.deep.equal([]);
    await t.close();
    await github.close();
  });

  const createInstance = (extra: Record<string, unknown> = {}) => createFromDoc(t, 'github', github.url, extra);

  it('polls issues and comments with since, sort=updated, direction=asc and follows Link pages', async () => {
    const { id } = await createInstance();
    t.clock.advance(60_000);
    for (let i = 1; i <= 120; i++) await github.openIssue(`issue ${i}`);
    await github.comment(3, 'first comment');
    const first = await pollNow(t, id);
    expect(first.issues).to.include({ fetched: 120, created: 120, updated: 0 });
    expect(first.comments).to.include({ fetched: 1, created: 1 });

    const issueRequests = github.provider.requests.filter((r) => r.path.endsWith('/issues'));
    expect(issueRequests).to.have.length(2);
    expect(issueRequests[0].path).to.equal(`/repos/${OWNER}/${REPO}/issues`);
    expect(issueRequests[0].query).to.deep.equal({
      state: 'all',
      since: new Date(t.clock.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      sort: 'updated',
      direction: 'asc',
      per_page: '100',
    });
    expect(issueRequests[0].headers).to.include({
      authorization: `Bearer ${TOKEN}`,
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
    });
    // The second page is the Link URL as GitHub gives it (by repository id).
    expect(issueRequests[1].path).to.match(/^\/repositories\/\d+\/issues$/);
    expect(issueRequests[1].query).to.include({ page: '2', since: issueRequests[0].query.since });
    expect(github.operations).to.include.members(['issues/list-for-repo', 'issues/list-comments-for-repo']);

    // The next poll asks from the previous poll's start (minus the overlap): the overlap refetches
    // the 120 issues of that second, and only the changed one raises an event.
    const firstPollAt = t.clock.now();
    t.clock.advance(5 * 60_000);
    await github.editIssue(7, { state: 'closed' }, 'closed');
    const second = await pollNow(t, id);
    expect(second.issues).to.include({ fetched: 120, created: 0, updated: 1 });
    const since = github.provider.requests.filter((r) => r.path.endsWith('/issues')).at(-1)!.query.since;
    expect(Date.parse(since)).to.equal(firstPollAt - t.config.poller.overlapSeconds * 1000);
    const events = await listEvents(t, id);
    expect(events[0]).to.include({ eventType: 'UPDATED', objectType: 'issues' });
    expect(events[0].raw).to.include({ number: 7, state: 'closed' });
    expect(events.filter((e) => e.objectType === 'comments').map((e) => e.eventType)).to.deep.equal(['CREATED']);
  });

  it('issues means issues in both modes: pull requests, which /issues lists with a pull_request key, raise no issues event when polled, as the issues webhook event never covers them', async () => {
    const polled = await createInstance();
    const hooked = await createInstance({ 'event.vendor.type': 'webhook' });
    const [hook] = [...github.hooks.values()];
    hook.config.url = hook.config.url.replace('http://127.0.0.1:1', t.url);
    t.clock.advance(60_000);
    const issue = await github.openIssue('a bug');
    const pr = await github.openPullRequest('the fix');
    await github.comment(pr.number, 'looks good');

    // The listing itself carries both: GitHub's description says so, and so does the emulator.
    const listing = await got(`${github.url}/repos/${OWNER}/${REPO}/issues?state=all`, { headers: { authorization: `Bearer ${TOKEN}` } }).json<
      Array<{ id: number; pull_request?: unknown }>
    >();
    expect(listing.map((r) => [r.id, 'pull_request' in r])).to.have.deep.members([
      [issue.id, false],
      [pr.id, true],
    ]);

    const summary = await pollNow(t, polled.id);
    expect(summary.issues).to.include({ fetched: 1, created: 1 });
    expect((await listEvents(t, polled.id)).filter((e) => e.objectType === 'issues').map((e) => e.objectId)).to.deep.equal([String(issue.id)]);

    // Webhook mode: the hook subscribes to `issues` and `issue_comment`; GitHub announces the pull
    // request as a `pull_request` event, which is not delivered. Comments on it are issue comments
    // in both modes (GitHub's issue comment endpoints and event cover pull requests too).
    expect(github.deliveries.map((d) => d.event)).to.deep.equal(['issues', 'issue_comment']);
    await t.gateway.webhooks.processor.tick();
    const pushed = await listEvents(t, hooked.id);
    expect(pushed.filter((e) => e.objectType === 'issues').map((e) => e.objectId)).to.deep.equal([String(issue.id)]);
    expect((await listEvents(t, polled.id)).filter((e) => e.objectType === 'comments')).to.have.length(1);
    expect(pushed.filter((e) => e.objectType === 'comments')).to.have.length(1);
  });

  it('retries a 429 after its Retry-After and reports a poll that keeps failing', async () => {
    const { id } = await createInstance();
    t.clock.advance(60_000);
    await github.openIssue('one');
    const limited = {
      status: 429,
      headers: { 'retry-after': '1', 'x-ratelimit-remaining': '0' },
      body: { message: 'You have exceeded a secondary rate limit.', documentation_url: 'https://docs.github.com/rest' },
    };
    // The prefix matches both listings (issues and issues/comments), which are polled side by side.
    github.provider.failNext(1, limited, { path: `/repos/${OWNER}/${REPO}/issues` });
    const retried = await pollNow(t, id);
    expect(retried.issues).to.include({ created: 1 });
    expect(retried.comments).not.to.have.property('error');
    expect(github.provider.requests).to.have.length(3);

    // Three answers of 429 for each listing exhaust its attempts: the poll reports it, the next one recovers.
    github.provider.failNext(6, limited, { path: `/repos/${OWNER}/${REPO}/issues` });
    const failed = await pollNow(t, id);
    expect(failed.issues.error).to.match(/429/);
    expect(failed.comments.error).to.match(/429/);
    t.clock.advance(60_000);
    await github.openIssue('two');
    expect((await pollNow(t, id)).issues).to.include({ created: 1 });
  });

  it('webhook mode: registers a hook with a generated secret, verifies, dedupes and maps deliveries, ignores ping, deletes the hook', async () => {
    const created = await createInstance({ 'event.vendor.type': 'webhook' });
    const [hook] = [...github.hooks.values()];
    expect(created.webhookId).to.equal(String(hook.id));
    expect(hook.events).to.deep.equal(['issues', 'issue_comment']);
    expect(hook.config).to.include({ url: created.webhookUrl, content_type: 'json', insecure_ssl: '0' });
    const secret = hook.config.secret!;
    expect(secret).to.match(/^[0-9a-f]{64}$/);
    expect(created.configuration['webhook.secret']).to.equal('********');
    const [row] = await t.gateway.db('instances').where({ id: created.id }).select('configuration');
    expect(String(row.configuration)).not.to.include(secret);
    hook.config.url = hook.config.url.replace('http://127.0.0.1:1', t.url);

    expect((await github.ping(hook)).status).to.equal(202);
    const opened = await github.openIssue('Found a bug');
    await github.comment(opened.number, 'Me too');
    const comment = await github.editComment(Number((await github.comment(opened.number, 'typo')).id), 'fixed typo');
    await github.editIssue(opened.number, { labels: [{ name: 'bug' }] }, 'labeled');
    await github.deleteIssue(opened.number);
    expect(github.deliveries.map((d) => d.status)).to.deep.equal([202, 202, 202, 202, 202, 202, 202]);

    // A redelivery (same X-GitHub-Delivery) is accepted and raises nothing new; a bad signature is 401.
    const again = github.deliveries[2];
    const redelivered = await post(hook.config.url, again.body, again.headers);
    expect(JSON.parse(redelivered.body)).to.include({ status: 'duplicate' });
    expect(
      (
        await post(hook.config.url, again.body, {
          ...again.headers,
          'x-github-delivery': 'other',
          'x-hub-signature-256': await sign('not-the-secret', again.body),
        })
      ).statusCode,
    ).to.equal(401);

    await t.gateway.webhooks.processor.tick();
    const events = await listEvents(t, created.id);
    // Deliveries are mapped in the order the receipts are claimed, which the test does not fix.
    expect(events.map((e) => [e.objectType, e.eventType, e.objectId])).to.have.deep.members([
      ['issues', 'CREATED', String(opened.id)],
      ['comments', 'CREATED', String(comment.id - 1)],
      ['comments', 'CREATED', String(comment.id)],
      ['comments', 'UPDATED', String(comment.id)],
      ['issues', 'UPDATED', String(opened.id)],
      ['issues', 'DELETED', String(opened.id)],
    ]);
    expect(events.find((e) => e.eventType === 'UPDATED' && e.objectType === 'comments')!.raw).to.include({ action: 'edited' });

    expect((await t.api.delete(`instances/${created.id}`)).statusCode).to.equal(200);
    expect(github.hooks.size).to.equal(0);
    expect(github.operations).to.include.members(['repos/create-webhook', 'repos/delete-webhook']);
  });

  it('the emulator refuses a request that GitHub’s description calls invalid', async () => {
    const res = await got(`${github.url}/repos/${OWNER}/${REPO}/issues?sort=newest`, { headers: { authorization: `Bearer ${TOKEN}` }, throwHttpErrors: false });
    expect(res.statusCode).to.equal(422);
    expect(github.invalidRequests).to.have.length(1);
    expect(github.invalidRequests[0].errors.join()).to.match(/sort/);
    github.invalidRequests.length = 0;
  });
});
