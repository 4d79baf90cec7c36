import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import got from 'got';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { listEvents, pollNow } from '../../poller/helpers.js';
import { createFromDoc, docInstanceJson } from '../catalog.js';
import { JiraProvider } from './jira.js';

const doc = docInstanceJson('jira');
const EMAIL = String(doc.configuration['jira.email']);
const TOKEN = String(doc.configuration['api.key']);
const MINUTE = 60_000;

describe('jira connector against the emulated Jira Cloud', () => {
  let t: TestGateway;
  let jira: JiraProvider;

  beforeEach(async () => {
    t = await startGateway();
    jira = await JiraProvider.start({ email: EMAIL, apiToken: TOKEN });
    jira.now = () => t.clock.now();
  });

  afterEach(async () => {
    // Every request the connector sent in the test is one Atlassian's description accepts.
    expect(jira.invalidRequests.map((r) => [r.request.method, r.request.path, r.errors])).to.deep.equal([]);
    await t.close();
    await jira.close();
  });

  const createInstance = (extra: Record<string, unknown> = {}) => createFromDoc(t, 'jira', jira.url, extra);
  const searches = () => jira.provider.requests.filter((r) => r.path === '/rest/api/3/search/jql');

  it('polls with JQL to the minute and nextPageToken pages; the minute overlap raises nothing twice', async () => {
    const { id } = await createInstance();
    t.clock.advance(MINUTE);
    for (let i = 1; i <= 150; i++) await jira.createIssue('ACME', `issue ${i}`);
    const first = await pollNow(t, id);
    expect(first.issues).to.include({ fetched: 150, created: 150 });
    const [page1, page2] = searches();
    const sinceMinute = new Date(t.clock.now() - MINUTE).toISOString().slice(0, 16).replace('T', ' ');
    expect(page1.query).to.deep.equal({ jql: `updated >= "${sinceMinute}" ORDER BY updated ASC`, fields: '*navigable', maxResults: '100' });
    expect(page1.headers.authorization).to.equal(`Basic ${Buffer.from(`${EMAIL}:${TOKEN}`).toString('base64')}`);
    expect(page2.query.nextPageToken).to.be.a('string').and.not.equal('');
    expect(searches()).to.have.length(2);

    // Within the same minute: the JQL lists the issues again, the hashes drop them, the edit is raised.
    t.clock.advance(20_000);
    const edited = await jira.updateIssue('10005', { summary: 'renamed' });
    const second = await pollNow(t, id);
    expect(second.issues).to.include({ created: 0, updated: 1 });
    const events = await listEvents(t, id);
    expect(events).to.have.length(151);
    expect(events[0]).to.include({ eventType: 'UPDATED', objectType: 'issues', objectId: edited.id });
    expect((events[0].raw as { key: string }).key).to.equal('ACME-5');
  });

  it('waits a 429 Retry-After and retries; a poll that stays limited reports it', async () => {
    const { id } = await createInstance();
    t.clock.advance(MINUTE);
    await jira.createIssue('ACME', 'one');
    const limited = {
      status: 429,
      headers: { 'retry-after': '2', 'x-ratelimit-reset': '2026-11-25T10:00:02Z', 'ratelimit-reason': 'jira-cost-based' },
      body: { errorMessages: ['Rate limit exceeded.'] },
    };
    jira.provider.failNext(1, limited, { path: '/rest/api/3/search/jql' });
    expect((await pollNow(t, id)).issues).to.include({ created: 1 });
    expect(searches()).to.have.length(2);
    jira.provider.failNext(3, limited, { path: '/rest/api/3/search/jql' });
    expect((await pollNow(t, id)).issues.error).to.match(/429/);
  });

  it('webhook mode: registers an admin webhook, keeps the id from its self URL, verifies X-Hub-Signature, maps webhookEvent, deregisters', async () => {
    const created = await createInstance({ 'event.vendor.type': 'webhook' });
    const [hook] = [...jira.webhooks.values()];
    expect(created.webhookId).to.equal(String(hook.id));
    expect(hook.events).to.deep.equal(['jira:issue_created', 'jira:issue_updated', 'jira:issue_deleted']);
    expect(hook.secret).to.match(/^[0-9a-f]{64}$/);
    expect(created.configuration['webhook.secret']).to.equal('********');
    hook.url = hook.url.replace('http://127.0.0.1:1', t.url);

    const issue = await jira.createIssue('ACME', 'Login fails');
    await jira.updateIssue(issue.id, { summary: 'Login fails on Safari' });
    await jira.deleteIssue(issue.id);
    expect(jira.deliveries.map((d) => d.status)).to.deep.equal([202, 202, 202]);

    const [first] = jira.deliveries;
    const again = await got.post(hook.url, { body: first.body, headers: first.headers, throwHttpErrors: false });
    expect(JSON.parse(again.body)).to.include({ status: 'duplicate' });
    const forged = {
      ...first.headers,
      'x-atlassian-webhook-identifier': 'other',
      'x-hub-signature': `sha256=${createHmac('sha256', 'wrong').update(first.body).digest('hex')}`,
    };
    expect((await got.post(hook.url, { body: first.body, headers: forged, throwHttpErrors: false })).statusCode).to.equal(401);

    await t.gateway.webhooks.processor.tick();
    const events = await listEvents(t, created.id);
    expect(events.map((e) => [e.objectType, e.eventType, e.objectId])).to.have.deep.members([
      ['issues', 'CREATED', issue.id],
      ['issues', 'UPDATED', issue.id],
      ['issues', 'DELETED', issue.id],
    ]);

    expect((await t.api.delete(`instances/${created.id}`)).statusCode).to.equal(200);
    expect(jira.webhooks.size).to.equal(0);
    expect(jira.provider.requests.some((r) => r.method === 'DELETE' && r.path === `/rest/webhooks/1.0/webhook/${hook.id}`)).to.equal(true);
  });

  it("reads the API user's profile time zone (GET /rest/api/3/myself) when the instance sets none: JQL dates are written in it, so a user west of UTC misses nothing", async () => {
    jira.userTimeZone = 'America/Los_Angeles';
    const { id } = await createInstance();
    t.clock.advance(MINUTE);
    const issue = await jira.createIssue('ACME', 'filed from San Francisco');
    expect((await pollNow(t, id)).issues).to.include({ created: 1 });
    expect(jira.provider.requests.filter((r) => r.path === '/rest/api/3/myself')).to.have.length(1);
    const shown = (await t.api.get(`instances/${id}`)).body as unknown as { configuration: Record<string, string> };
    expect(shown.configuration['event.poller.timezone']).to.equal('America/Los_Angeles');
    // The since-minute as a Los Angeles wall clock, the way Jira reads it for this user.
    const since = new Date(t.clock.now() - MINUTE);
    const local = new Intl.DateTimeFormat('sv-SE', { timeZone: 'America/Los_Angeles', dateStyle: 'short', timeStyle: 'short' }).format(since);
    expect(searches()[0].query.jql).to.equal(`updated >= "${local}" ORDER BY updated ASC`);
    expect((await listEvents(t, id)).map((e) => e.objectId)).to.deep.equal([issue.id]);
  });

  it('an instance that sets event.poller.timezone keeps it; a lookup Jira refuses fails the create (502) and leaves no instance', async () => {
    jira.userTimeZone = 'America/Los_Angeles';
    const { id } = await createInstance({ 'event.poller.timezone': 'Europe/Paris' });
    const shown = (await t.api.get(`instances/${id}`)).body as unknown as { configuration: Record<string, string> };
    expect(shown.configuration['event.poller.timezone']).to.equal('Europe/Paris');
    expect(jira.provider.requests.filter((r) => r.path === '/rest/api/3/myself')).to.have.length(0);

    const before = ((await t.api.get('instances')).body as unknown as unknown[]).length;
    const res = await t.api.post('instances', {
      json: { ...doc, configuration: { ...doc.configuration, 'api.key': 'not-the-token', 'base.url': jira.url } },
    });
    expect(res.statusCode).to.equal(502);
    expect((res.body as unknown as { code: string }).code).to.equal('PROVIDER_LOOKUP_FAILED');
    expect(((await t.api.get('instances')).body as unknown as unknown[]).length).to.equal(before);
  });

  it("the contract check refuses what Atlassian's description refuses: a connector with a broken search fails its poll", async () => {
    // Straight at the emulator: a parameter the enhanced search does not have, a page size that is no integer.
    const auth = { authorization: `Basic ${Buffer.from(`${EMAIL}:${TOKEN}`).toString('base64')}` };
    const jql = encodeURIComponent('updated >= "2026-11-25 10:00"');
    for (const query of [`jql=${jql}&startAt=0`, `jql=${jql}&maxResults=many`]) {
      const res = await got(`${jira.url}/rest/api/3/search/jql?${query}`, { headers: auth, throwHttpErrors: false });
      expect(res.statusCode, query).to.equal(400);
    }
    expect(jira.invalidRequests.map((r) => r.errors.join()).join(' | ')).to.match(/additional properties.*startAt.* \| .*maxResults must be integer/);
    jira.invalidRequests.length = 0;

    // The bundled connector with its search's page size misspelt, saved as a custom connector: the
    // gateway's own poll is refused by the description.
    const broken = JSON.parse(readFileSync(new URL('../../../connectors/jira.json', import.meta.url), 'utf8'));
    broken.key = 'jira-broken';
    broken.events.poller.issues.url = broken.events.poller.issues.url.replace('maxResults=100', 'maxResult=100');
    expect((await t.api.post('elements', { json: broken })).statusCode).to.equal(201);
    const res = await t.api.post('instances', {
      json: { ...doc, element: { key: 'jira-broken' }, configuration: { ...doc.configuration, 'base.url': jira.url } },
    });
    expect(res.statusCode).to.equal(201);
    const id = (res.body as unknown as { id: number }).id;
    t.clock.advance(MINUTE);
    expect((await pollNow(t, id)).issues.error).to.match(/400/);
    expect(jira.invalidRequests.map((r) => [r.request.path, r.errors.join()])).to.deep.equal([
      ['/rest/api/3/search/jql', '/query must NOT have additional properties {"additionalProperty":"maxResult"}'],
    ]);
    jira.invalidRequests.length = 0;
  });
});
