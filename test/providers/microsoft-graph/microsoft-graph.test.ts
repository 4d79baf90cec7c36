import { expect } from 'chai';
import { startOAuthServer, type OAuthProvider } from '../../auth/helpers.js';
import { eventTriples, quietPoll, startCatalogGateway, type CatalogGateway } from '../catalog.js';
import { pollNow } from '../../poller/helpers.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { ManualClock } from '../../../src/clock.js';
import { dropSchema, newSchemaName, startGateway, usePostgres, type TestGateway } from '../../helpers/gateway.js';
import { openApiFromPackage, validateRequest } from '../openapi-validator.js';
import { projectRoot } from '../../../src/config/index.js';
import { join } from 'node:path';
import { GraphProvider, MAX_MINUTES } from './graph.js';
import { createFromDocPage, TENANT } from './instance.js';

/**
 * The microsoft-graph connector against the Graph emulator and an OAuth 2.0 server: webhook mode
 * (validation handshake, clientState, thin notifications fetched, renewal, lifecycle notifications)
 * and polling (events: full listings over @odata.nextLink pages; users: delta query, more in users-delta.test.ts).
 */
const MINUTE = 60_000;

describe('microsoft-graph connector', () => {
  let t: CatalogGateway;
  let oauth: OAuthProvider;
  let graph: GraphProvider;

  beforeEach(async () => {
    t = await startCatalogGateway();
    oauth = await startOAuthServer({ token: `/${TENANT}/oauth2/v2.0/token`, authorize: `/${TENANT}/oauth2/v2.0/authorize` });
    graph = await GraphProvider.start({ accepts: (token) => oauth.valid.has(token) });
    graph.now = () => t.clock.now();
    graph.reachable = (url) => url.replace('http://127.0.0.1:1', t.url);
  });

  afterEach(async () => {
    // Every subscription request the connector sent is one Microsoft's description accepts.
    expect(graph.invalidRequests.map((r) => [r.request.method, r.request.path, r.errors])).to.deep.equal([]);
    // Graph wants a 2xx within 3 seconds (graph.ts cites it): every notification got 202 at once.
    for (const d of graph.deliveries) expect(d.ms, d.url).to.be.below(3000);
    await t.close();
    await graph.close();
    await oauth.close();
  });

  const createInstance = (configuration: Record<string, unknown> = {}) => createFromDocPage(t, oauth, graph, configuration);

  const calls = (method: string, path: string) => graph.provider.requests.filter((r) => r.method === method && r.path === path);
  const process = () => t.gateway.webhooks.processor.tick();
  const refresh = () => t.gateway.webhooks.refresher.tick();
  const poll = (id: number) => pollNow(t, id);
  /** The instance's objects are due for a poll now: a reconciliation poll was asked for. */
  const pollsDueNow = async (id: number) => {
    const objects = ((await t.api.get(`instances/${id}/status`)).body as unknown as { objects: Record<string, { nextPollDate: string }> }).objects;
    return Object.values(objects).every((o) => Date.parse(o.nextPollDate) <= t.clock.now());
  };
  /** The first poll: a silent baseline of what exists. */
  const baseline = async (id: number) => {
    expect(await poll(id)).to.deep.equal(quietPoll('events', 'users'));
    expect(await pollsDueNow(id)).to.equal(false);
  };
  const statusOf = async (id: number) =>
    ((await t.api.get(`instances/${id}/status`)).body as unknown as { webhooks?: Record<string, Record<string, unknown>> }).webhooks!;

  it('subscribes to users and events with a validated URL, the generated clientState and the maximum lifetime; thin notifications are fetched', async () => {
    const alice = await graph.createUser({ displayName: 'Alice', mail: 'alice@contoso.com' });
    const { id } = await createInstance();
    const users = graph.subscriptionOf('users')!;
    const events = graph.subscriptionOf('me/events')!;
    expect(users.changeType).to.equal('updated,deleted');
    expect(events.changeType).to.equal('created,updated,deleted');
    // Both URLs validated: 200 text/plain echoing the token, well within 10 seconds.
    const validations = graph.deliveries.filter((d) => d.contentType.startsWith('text/plain'));
    expect(validations).to.have.length(4);
    for (const v of validations) expect(v.status).to.equal(200);
    expect(users.expiresAt).to.be.at.most(t.clock.now() + MAX_MINUTES.users * MINUTE);
    expect(users.expiresAt).to.be.greaterThan(t.clock.now() + 41_000 * MINUTE);
    expect(events.expiresAt).to.be.at.most(t.clock.now() + MAX_MINUTES['me/events'] * MINUTE);
    expect(users.clientState).to.match(/^[0-9a-f]{64}$/);
    expect(events.clientState).to.equal(users.clientState);
    // The clientState is a secret: redacted in the instance.
    const shown = (await t.api.get(`instances/${id}`)).body as unknown as { configuration: Record<string, unknown> };
    expect(shown.configuration['webhook.secret']).to.not.equal(users.clientState);
    expect(await statusOf(id)).to.have.keys('users', 'events');

    await graph.updateUser(alice.id as string, { displayName: 'Alice Smith' });
    const meeting = await graph.createEvent({ subject: 'Planning' });
    expect(graph.deliveries.slice(-2).map((d) => d.status)).to.deep.equal([202, 202]);
    // Ingress only stored them: nothing fetched before the processor runs.
    expect(calls('GET', `/v1.0/users/${alice.id}`)).to.have.length(0);
    await process();
    expect(calls('GET', `/v1.0/users/${alice.id}`)).to.have.length(1);
    await graph.deleteUser(alice.id as string);
    await process();
    // deleted: raised without a fetch.
    expect(calls('GET', `/v1.0/users/${alice.id}`)).to.have.length(1);
    expect(calls('GET', `/v1.0/me/events/${encodeURIComponent(String(meeting.id))}`)).to.have.length(1);
    const triples = await eventTriples(t, id);
    expect(triples).to.deep.equal([
      ['UPDATED', 'users', alice.id],
      ['CREATED', 'events', meeting.id],
      ['DELETED', 'users', alice.id],
    ]);
    const list = (await t.api.get(`instances/${id}/events`)).body as unknown as Array<{ objectType: string; raw: Record<string, unknown> }>;
    expect(list.find((e) => e.objectType === 'events')!.raw).to.include({ subject: 'Planning' });
  });

  it('an update is fetched with the instance token and raised with the full record', async () => {
    const bob = await graph.createUser({ displayName: 'Bob' });
    const { id } = await createInstance();
    await graph.updateUser(bob.id as string, { displayName: 'Bob Jones', jobTitle: 'Engineer' });
    await process();
    const [fetched] = calls('GET', `/v1.0/users/${bob.id}`);
    expect(oauth.valid.has(String(fetched.headers.authorization).replace('Bearer ', ''))).to.equal(true);
    const list = (await t.api.get(`instances/${id}/events`)).body as unknown as Array<{ eventType: string; objectId: string; raw: Record<string, unknown> }>;
    expect(list.map((e) => [e.eventType, e.objectId])).to.deep.equal([['UPDATED', bob.id]]);
    expect(list[0].raw).to.include({ displayName: 'Bob Jones', jobTitle: 'Engineer' });

    // Updated, then gone before the processor fetched it: the fetch's 404 makes it DELETED.
    await graph.updateUser(bob.id as string, { displayName: 'Bob J.' });
    graph.users.delete(bob.id as string);
    await process();
    expect(await eventTriples(t, id)).to.deep.equal([
      ['UPDATED', 'users', bob.id],
      ['DELETED', 'users', bob.id],
    ]);
  });

  it('checks the clientState on every item: a body with none right is refused 401, a wrong item in a mixed body is dropped', async () => {
    const carol = await graph.createUser({ displayName: 'Carol' });
    const { id } = await createInstance();
    const sub = graph.subscriptionOf('users')!;
    const item = (clientState: string, userId: string) => ({
      subscriptionId: sub.id,
      clientState,
      changeType: 'updated',
      resource: `Users/${userId}`,
      resourceData: { '@odata.type': '#Microsoft.Graph.User', '@odata.id': `Users/${userId}`, id: userId },
    });
    const forged = await graph.post(sub.notificationUrl, { value: [item('not-the-client-state', carol.id as string)] });
    expect(forged.status).to.equal(401);
    expect(String(forged.body)).to.contain('INVALID_ITEM_SECRET');
    const mixed = await graph.post(sub.notificationUrl, { value: [item(sub.clientState, carol.id as string), item('forged', 'someone-else')] });
    expect(mixed.status).to.equal(202);
    await process();
    expect(await eventTriples(t, id)).to.deep.equal([['UPDATED', 'users', carol.id]]);
    expect(calls('GET', '/v1.0/users/someone-else')).to.have.length(0);
  });

  it('renews each subscription halfway through its life with PATCH; a renewal answered 404 re-creates it and polls the gap', async () => {
    const { id } = await createInstance({ 'event.poller.refresh_interval': '60' });
    await baseline(id);
    const events = graph.subscriptionOf('me/events')!;
    t.clock.advance(2_100 * MINUTE + 1000);
    expect(await refresh()).to.equal(1);
    const [patch] = calls('PATCH', `/v1.0/subscriptions/${events.id}`);
    expect(Date.parse(JSON.parse(patch.body).expirationDateTime)).to.equal(t.clock.now() + 4_200 * MINUTE);
    expect(events.expiresAt).to.equal(t.clock.now() + 4_200 * MINUTE);
    expect((await statusOf(id)).events).to.include({ expiresAt: new Date(events.expiresAt).toISOString(), failedAttempts: 0 });

    // Graph dropped the subscription without telling; a change happens meanwhile, unseen.
    graph.subscriptions.delete(events.id);
    const lost = await graph.createEvent({ subject: 'Made while unsubscribed' });
    t.clock.advance(2_100 * MINUTE + 1000);
    await refresh();
    const renewed = graph.subscriptionOf('me/events')!;
    expect(renewed.id).to.not.equal(events.id);
    expect((await statusOf(id)).events).to.include({ webhookId: renewed.id, failedAttempts: 0 });
    // The reconciliation poll raises what changed in the gap.
    expect(await pollsDueNow(id)).to.equal(true);
    await poll(id);
    expect(await eventTriples(t, id)).to.deep.include(['CREATED', 'events', lost.id]);
  });

  it('a renewal that keeps failing is retried, then the lapsed subscription is created anew and the objects polled', async () => {
    const { id } = await createInstance({ 'event.poller.refresh_interval': '60' });
    await baseline(id);
    const events = graph.subscriptionOf('me/events')!;
    graph.provider.failNext(
      100,
      { status: 503, body: { error: { code: 'serviceNotAvailable', message: 'Service Unavailable' } } },
      { path: `/v1.0/subscriptions/${events.id}` },
    );
    t.clock.advance(2_100 * MINUTE + 1000);
    await refresh();
    expect((await statusOf(id)).events).to.include({ failedAttempts: 1 });
    for (let i = 0; i < 12 && t.clock.now() < events.expiresAt; i++) {
      t.clock.advance(Math.min(6 * 60 * MINUTE, events.expiresAt - t.clock.now()));
      await refresh();
    }
    expect(t.clock.now()).to.be.at.least(events.expiresAt);
    const lost = await graph.createEvent({ subject: 'While lapsed' }); // no live subscription: not notified
    await refresh();
    const renewed = graph.subscriptionOf('me/events')!;
    expect(renewed.id).to.not.equal(events.id);
    expect(await pollsDueNow(id)).to.equal(true);
    await poll(id);
    expect(await eventTriples(t, id)).to.deep.include(['CREATED', 'events', lost.id]);
  });

  it('lifecycle notifications: reauthorizationRequired renews now, subscriptionRemoved re-creates and polls, missed polls', async () => {
    const { id } = await createInstance({ 'event.poller.refresh_interval': '60' });
    await baseline(id);
    const users = graph.subscriptionOf('users')!;
    const events = graph.subscriptionOf('me/events')!;

    expect((await graph.lifecycle(users.id, 'reauthorizationRequired')).status).to.equal(202);
    await process();
    expect(await refresh()).to.equal(1);
    expect(calls('PATCH', `/v1.0/subscriptions/${users.id}`)).to.have.length(1);

    // A change whose notification Graph lost (throttled), then says so.
    graph.users.set('lost-user', { id: 'lost-user', displayName: 'Dan' });
    expect(await pollsDueNow(id)).to.equal(false);
    expect((await graph.lifecycle(users.id, 'missed')).status).to.equal(202);
    await process();
    expect(await pollsDueNow(id)).to.equal(true);
    await poll(id);
    expect(await eventTriples(t, id)).to.deep.include(['CREATED', 'users', 'lost-user']);

    expect((await graph.lifecycle(events.id, 'subscriptionRemoved')).status).to.equal(202);
    const gap = await graph.createEvent({ subject: 'After removal' });
    await process();
    expect(await refresh()).to.equal(1);
    const recreated = graph.subscriptionOf('me/events')!;
    expect(recreated.id).to.not.equal(events.id);
    expect(calls('POST', '/v1.0/subscriptions')).to.have.length(3);
    expect(await pollsDueNow(id)).to.equal(true);
    await poll(id);
    expect(await eventTriples(t, id)).to.deep.include(['CREATED', 'events', gap.id]);
  });

  it('polls events as a full listing over @odata.nextLink pages, and users by delta query', async () => {
    const users = await Promise.all(['Ann', 'Ben', 'Cid'].map((n) => graph.createUser({ displayName: n })));
    const known = await Promise.all(['Standup', 'Retro', 'Demo'].map((subject) => graph.createEvent({ subject })));
    t.clock.advance(MINUTE);
    const { id } = await createInstance({ 'event.vendor.type': 'polling', 'event.poller.refresh_interval': '5' });
    expect(graph.subscriptions.size).to.equal(0);
    // The first poll: a silent baseline of the three users and three events.
    const first = await poll(id);
    expect(first.users).to.deep.include({ fetched: 3, created: 0, updated: 0, deleted: 0 });
    expect(first.events).to.deep.include({ fetched: 3, created: 0, updated: 0, deleted: 0 });
    expect(calls('GET', '/v1.0/me/events').map((r) => r.query.$skiptoken ?? '')).to.deep.equal(['', '2']);
    await graph.updateUser(users[1].id as string, { displayName: 'Benjamin' });
    graph.users.delete(users[2].id as string);
    t.clock.advance(MINUTE);
    // Dated after the instance's creation (lastModifiedDateTime): an event, not a baseline.
    const meeting = await graph.createEvent({ subject: 'Review' });
    // Events: a full listing every poll, compared by content hash (deletes: true: a full listing once an hour finds deletions).
    for (let i = 0; i < 3; i++) {
      t.clock.advance(61 * MINUTE);
      await poll(id);
    }
    // An event older than the instance, known since the first full listing, deleted now: missing
    // from the next complete full listing, so DELETED. (Records dated before the instance enter the
    // snapshot with the first full listing, an hour after the first poll — docs/connectors.md
    // "Change detection".)
    graph.events.delete(known[0].id as string);
    for (let i = 0; i < 2; i++) {
      t.clock.advance(61 * MINUTE);
      await poll(id);
    }
    expect(await eventTriples(t, id)).to.have.deep.members([
      ['UPDATED', 'users', users[1].id],
      ['DELETED', 'users', users[2].id],
      ['CREATED', 'events', meeting.id],
      ['DELETED', 'events', known[0].id],
    ]);
  });

  it("Microsoft's description refuses a broken subscription request", async () => {
    const description = await openApiFromPackage(join(projectRoot, 'test/providers/microsoft-graph/openapi-subset.json'));
    const request = (body: unknown) => ({
      method: 'PATCH',
      path: '/subscriptions/7f105c7d-2dc5-4530-97cd-4e7ae6534c07',
      query: {},
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      at: 0,
    });
    expect(validateRequest(description, request({ expirationDateTime: '2026-12-08T10:00:00.000Z' })).errors).to.deep.equal([]);
    expect(validateRequest(description, request({ expirationDateTime: 'in three days' })).errors.join()).to.match(/expirationDateTime/);

    const users = await openApiFromPackage(join(projectRoot, 'test/providers/microsoft-graph/openapi-users.json'));
    const list = (query: Record<string, string>) => ({ method: 'GET', path: '/users', query, headers: {}, body: '', at: 0 });
    expect(validateRequest(users, list({})).errors).to.deep.equal([]);
    expect(validateRequest(users, list({ $top: '-5' })).errors.join()).to.match(/top/);

    // The users delta query, against Users.Functions' /users/microsoft.graph.delta(): the connector's
    // first request validates; a malformed $count is refused.
    const usersDelta = await openApiFromPackage(join(projectRoot, 'test/providers/microsoft-graph/openapi-users-delta.json'));
    const connector = JSON.parse(readFileSync(join(projectRoot, 'connectors/microsoft-graph.json'), 'utf8')) as {
      events: { poller: { users: { url: string } } };
    };
    const deltaUrl = new URL(connector.events.poller.users.url, 'https://graph.microsoft.com');
    const deltaQuery = Object.fromEntries(deltaUrl.searchParams);
    const delta = (query: Record<string, string>) => ({ method: 'GET', path: '/users/microsoft.graph.delta()', query, headers: {}, body: '', at: 0 });
    expect(deltaUrl.pathname).to.equal('/users/delta');
    expect(validateRequest(usersDelta, delta(deltaQuery)).errors).to.deep.equal([]);
    expect(validateRequest(usersDelta, delta({ ...deltaQuery, $count: 'maybe' })).errors.join()).to.match(/count/);

    // The calendar events, against the Calendar module's /users/{user-id}/events (the signed-in
    // user's /me/events): a listing and a fetch validate; a negative $top is refused.
    const events = await openApiFromPackage(join(projectRoot, 'test/providers/microsoft-graph/openapi-events.json'));
    const get = (path: string, query: Record<string, string> = {}) => ({ method: 'GET', path, query, headers: {}, body: '', at: 0 });
    expect(validateRequest(events, get('/users/me/events')).errors).to.deep.equal([]);
    expect(validateRequest(events, get('/users/me/events/AAMkAGI2THVSAAA=')).errors).to.deep.equal([]);
    expect(validateRequest(events, get('/users/me/events', { $top: '-1' })).errors.join()).to.match(/top/);
  });
});

describe('microsoft-graph connector on two nodes', () => {
  let nodes: TestGateway[];
  let oauth: OAuthProvider;
  let graph: GraphProvider;
  let dataDir: string;
  let schema: string | undefined;
  const clock = new ManualClock();

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'pollgate-graph-'));
    schema = usePostgres ? newSchemaName() : undefined;
    nodes = [];
    for (const id of ['node-a', 'node-b']) nodes.push(await startGateway({ clock, dataDir, schema, config: { node: { id } } }));
    oauth = await startOAuthServer({ token: `/${TENANT}/oauth2/v2.0/token`, authorize: `/${TENANT}/oauth2/v2.0/authorize` });
    graph = await GraphProvider.start({ accepts: (token) => oauth.valid.has(token) });
    graph.now = () => clock.now();
    graph.reachable = (url) => url.replace('http://127.0.0.1:1', nodes[0].url);
  });

  afterEach(async () => {
    expect(graph.invalidRequests).to.deep.equal([]);
    for (const n of nodes) await n.close();
    await graph.close();
    await oauth.close();
    if (schema) await dropSchema(schema);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('renews a subscription once, whichever node claims it, and re-creates a removed one once', async () => {
    const [a, b] = nodes;
    const { id } = await createFromDocPage(a, oauth, graph);
    const events = graph.subscriptionOf('me/events')!;
    clock.advance(2_100 * MINUTE + 1000);
    const claimed = await Promise.all([a.gateway.webhooks.refresher.tick(), b.gateway.webhooks.refresher.tick()]);
    expect(claimed[0] + claimed[1]).to.equal(1);
    expect(graph.provider.requests.filter((r) => r.method === 'PATCH')).to.have.length(1);
    expect(events.expiresAt).to.equal(clock.now() + 4_200 * MINUTE);

    // Graph removes it; each node's processor and refresher run: one new subscription.
    expect((await graph.lifecycle(events.id, 'subscriptionRemoved')).status).to.equal(202);
    await Promise.all([a.gateway.webhooks.processor.tick(), b.gateway.webhooks.processor.tick()]);
    await Promise.all([a.gateway.webhooks.refresher.tick(), b.gateway.webhooks.refresher.tick()]);
    expect(graph.provider.requests.filter((r) => r.method === 'POST' && r.path === '/v1.0/subscriptions')).to.have.length(3);
    const shown = (await b.api.get(`instances/${id}`)).body as unknown as { webhookIds: Record<string, string> };
    expect(shown.webhookIds.events).to.equal(graph.subscriptionOf('me/events')!.id);
  });
});
