import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider, type RouteRequest } from '../../sandbox/provider-server.js';
import { createInstance, pollNow, providerConnector, registerConnector } from './helpers.js';

/**
 * GraphQL listings on their own (docs/connectors.md "GraphQL listings"), against a loopback GraphQL
 * endpoint that pages a connection with `edges` and a cursor variable of its own name.
 */
const QUERY =
  'query Tickets($size: Int!, $from: String, $filter: String) { search(size: $size, from: $from, filter: $filter) { edges { node { key changed } } pageInfo { hasNextPage endCursor } } }';

const ticketsObject = (graphql: Record<string, unknown> = {}) => ({
  url: '/graphql',
  idField: 'key',
  datesConfiguration: { updatedDateField: 'changed' },
  graphql: { query: QUERY, variables: { size: 2, filter: "changed >= '${gmtDate}'" }, connectionPath: '$.data.search', cursorVariable: 'from', ...graphql },
});

describe('polling: GraphQL listings', () => {
  let provider: EmulatedProvider;
  let t: TestGateway;
  const bodies: Array<{ query: string; variables: Record<string, unknown> }> = [];

  beforeEach(async () => {
    bodies.length = 0;
    provider = await EmulatedProvider.start();
    t = await startGateway();
    provider.now = () => t.clock.now();
    const tickets = () => ['A', 'B', 'C', 'D', 'E'].map((key) => ({ key, changed: new Date(t.clock.now()).toISOString() }));
    provider.route('POST', '/graphql', (req: RouteRequest) => {
      const body = req.json as { query: string; variables: Record<string, unknown> };
      bodies.push(body);
      const all = tickets();
      const start = body.variables.from ? all.findIndex((r) => r.key === body.variables.from) + 1 : 0;
      const page = all.slice(start, start + Number(body.variables.size));
      const end = page[page.length - 1]?.key ?? null;
      return {
        status: 200,
        body: { data: { search: { edges: page.map((node) => ({ node })), pageInfo: { hasNextPage: start + page.length < all.length, endCursor: end } } } },
      };
    });
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
  });

  it('posts {query, variables}, reads the nodes of edges, and pages by endCursor in the cursor variable while hasNextPage', async () => {
    await registerConnector(t, providerConnector('gql', { poller: { tickets: ticketsObject() } }));
    const { id } = await createInstance(t, 'gql', provider.url);
    t.clock.advance(60_000);
    expect((await pollNow(t, id)).tickets).to.include({ fetched: 5, created: 5 });
    expect(bodies.map((b) => b.variables.from ?? null)).to.deep.equal([null, 'B', 'D']);
    expect(bodies[0].query).to.equal(QUERY);
    expect(bodies[0].variables.filter).to.match(/^changed >= '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ'$/);
    const sent = provider.requests.filter((r) => r.path === '/graphql');
    expect(sent.every((r) => r.method === 'POST' && String(r.headers['content-type']).startsWith('application/json'))).to.equal(true);
  });

  it('an answer without the connection, or with errors, fails the poll and keeps the watermark; the next good one lists all', async () => {
    await registerConnector(t, providerConnector('gql', { poller: { tickets: ticketsObject() } }));
    const { id } = await createInstance(t, 'gql', provider.url);
    t.clock.advance(60_000);
    provider.failNext(1, { status: 200, body: { data: null } }, { path: '/graphql' });
    expect((await pollNow(t, id)).tickets.error).to.match(/no connection at \$\.data\.search, the listing's connectionPath, not a listing$/);
    provider.failNext(1, { status: 200, body: { data: { search: { pageInfo: { hasNextPage: false } } } } }, { path: '/graphql' });
    expect((await pollNow(t, id)).tickets.error).to.match(/has neither nodes nor edges/);
    provider.failNext(1, { status: 200, body: { errors: [{ message: 'Field "size" is too large' }], data: null } }, { path: '/graphql' });
    expect((await pollNow(t, id)).tickets.error).to.match(/the provider answered GraphQL errors: Field "size" is too large/);
    expect((await pollNow(t, id)).tickets).to.include({ fetched: 5, created: 5 });
  });

  it('refuses a broken definition at load, each problem at its field', async () => {
    const bad = providerConnector('gql-bad', {
      poller: {
        tickets: {
          ...ticketsObject({ query: 'query T($size: Int!) { search(size: $size) { edges { node { key } } } }', variables: { size: 2, other: 1 } }),
          recordsPath: '$.data',
        },
        mutation: ticketsObject({ query: 'mutation M($from: String) { touch(from: $from) { ok } }', variables: {} }),
        broken: ticketsObject({ query: 'query { search(' }),
      },
    });
    const res = await t.api.post('elements', { json: bad });
    expect(res.statusCode).to.equal(400);
    const details = (res.body as unknown as { details: Array<{ field: string; message: string }> }).details;
    expect(details).to.deep.include.members([
      { field: '/events/poller/tickets/graphql', message: 'sets the request and its paging itself: leave out recordsPath' },
      { field: '/events/poller/tickets/graphql/query', message: 'declares no $from, the cursor variable each next page sets' },
      { field: '/events/poller/tickets/graphql/variables/other', message: 'is not a variable the query declares' },
      { field: '/events/poller/mutation/graphql/query', message: 'must be a query, not a mutation' },
    ]);
    expect(details.some((d) => d.field === '/events/poller/broken/graphql/query' && d.message.startsWith('is not a GraphQL document: Syntax Error'))).to.equal(
      true,
    );
    expect((await t.api.get('elements/gql-bad')).statusCode).to.equal(404);
  });
});
