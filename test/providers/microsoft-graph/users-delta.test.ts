import { expect } from 'chai';
import { startOAuthServer, type OAuthProvider } from '../../auth/helpers.js';
import { eventTriples, startCatalogGateway, type CatalogGateway } from '../catalog.js';
import { pollNow } from '../../poller/helpers.js';
import { GraphProvider } from './graph.js';
import { createFromDocPage, TENANT } from './instance.js';

/**
 * The microsoft-graph connector's `users` object by delta query (docs/connectors/microsoft-graph.md
 * "Object types"), against the Graph emulator's `/users/delta` (users-delta.ts): a baseline full
 * sync, incremental rounds from the stored `@odata.deltaLink`, `@removed` users as DELETED, and an
 * expired token (410 Gone) answered by a full resync that raises only what changed.
 */
describe('microsoft-graph connector: users by delta query', () => {
  let t: CatalogGateway;
  let oauth: OAuthProvider;
  let graph: GraphProvider;

  beforeEach(async () => {
    t = await startCatalogGateway();
    oauth = await startOAuthServer({ token: `/${TENANT}/oauth2/v2.0/token`, authorize: `/${TENANT}/oauth2/v2.0/authorize` });
    graph = await GraphProvider.start({ accepts: (token) => oauth.valid.has(token) });
    graph.now = () => t.clock.now();
  });

  afterEach(async () => {
    expect(graph.invalidRequests.map((r) => [r.request.method, r.request.path, r.errors])).to.deep.equal([]);
    await t.close();
    await graph.close();
    await oauth.close();
  });

  const pollingInstance = async () => (await createFromDocPage(t, oauth, graph, { 'event.vendor.type': 'polling', 'event.poller.refresh_interval': '5' })).id;
  const deltaCalls = () => graph.provider.requests.filter((r) => r.method === 'GET' && r.path === '/v1.0/users/delta');
  const firstRequests = () => deltaCalls().filter((r) => r.query.$skiptoken === undefined);
  const usersOf = async (id: number) => (await pollNow(t, id)).users;
  const people = (names: string[]) => Promise.all(names.map((n) => graph.createUser({ displayName: n, mail: `${n.toLowerCase()}@contoso.com` })));

  it('the first poll is a silent full sync; a change, then one incremental poll, raises UPDATED; a removed user raises DELETED', async () => {
    const [ann, ben, cid, dee, eve] = await people(['Ann', 'Ben', 'Cid', 'Dee', 'Eve']);
    const id = await pollingInstance();
    // Full sync: five users over three pages (two per page), none raised.
    expect(await usersOf(id)).to.deep.include({ fetched: 5, created: 0, updated: 0, deleted: 0 });
    expect(deltaCalls()).to.have.length(3);
    // $select only on the initial request; the pages after follow the nextLinks ($skiptoken alone).
    const [initial] = firstRequests();
    expect(initial.query.$select).to.contain('displayName');
    expect(
      deltaCalls()
        .slice(1)
        .map((r) => Object.keys(r.query)),
    ).to.deep.equal([['$skiptoken'], ['$skiptoken']]);
    expect(await eventTriples(t, id)).to.deep.equal([]);

    await graph.updateUser(ben.id as string, { jobTitle: 'Engineer' });
    await graph.deleteUser(dee.id as string);
    const fay = (await people(['Fay']))[0];
    // A property the connector does not $select changes nothing it tracks: not listed, not raised.
    await graph.updateUser(cid.id as string, { employeeId: 'E-1234' });
    const before = deltaCalls().length;
    expect(await usersOf(id)).to.deep.include({ fetched: 3, created: 1, updated: 1, deleted: 1 });
    // One round: the stored deltaLink ($deltatoken alone), two pages of changes.
    const round = deltaCalls().slice(before);
    expect(Object.keys(round[0].query)).to.deep.equal(['$deltatoken']);
    expect(round).to.have.length(2);
    expect(await eventTriples(t, id)).to.have.deep.members([
      ['UPDATED', 'users', ben.id],
      ['DELETED', 'users', dee.id],
      ['CREATED', 'users', fay.id],
    ]);
    const list = (await t.api.get(`instances/${id}/events`)).body as unknown as Array<{ objectId: string; raw: Record<string, unknown> }>;
    expect(list.find((e) => e.objectId === ben.id)!.raw).to.include({ displayName: 'Ben', jobTitle: 'Engineer' });

    // Nothing changed since: the next round lists nothing.
    expect(await usersOf(id)).to.deep.include({ fetched: 0, created: 0, updated: 0, deleted: 0 });
    expect(ann.id).to.be.a('string');
    expect(eve.id).to.be.a('string');
  });

  it('an expired token (410 Gone): a full resync that raises only what changed, then incremental again', async () => {
    const crowd = await people(Array.from({ length: 12 }, (_, i) => `User${i}`));
    const id = await pollingInstance();
    expect(await usersOf(id)).to.deep.include({ fetched: 12, created: 0 });
    await graph.updateUser(crowd[3].id as string, { displayName: 'User3 Renamed' });
    graph.users.delete(crowd[7].id as string);
    const late = (await people(['Late']))[0];
    // Graph forgot the sync state behind the stored deltaLink.
    graph.usersDelta.expireTokens();
    const resync = await usersOf(id);
    expect(resync).to.deep.include({ fetched: 12, created: 1, updated: 1, deleted: 1 });
    const gone = deltaCalls().find((r) => r.query.$deltatoken);
    expect(gone).to.not.equal(undefined);
    // The resync began anew: the initial request again, with $select.
    expect(firstRequests().filter((r) => r.query.$select)).to.have.length(2);
    expect(await eventTriples(t, id)).to.have.deep.members([
      ['UPDATED', 'users', crowd[3].id],
      ['DELETED', 'users', crowd[7].id],
      ['CREATED', 'users', late.id],
    ]);
    // The resync stored a fresh deltaLink: the next poll is one incremental round.
    await graph.updateUser(crowd[0].id as string, { jobTitle: 'Lead' });
    expect(await usersOf(id)).to.deep.include({ fetched: 1, updated: 1, created: 0, deleted: 0 });
    expect(Object.keys(firstRequests().at(-1)!.query)).to.deep.equal(['$deltatoken']);
  });

  it('the emulator answers an expired token as Microsoft documents: 410 with a Location to start over', async () => {
    await people(['Ann']);
    oauth.valid.add('a-token-for-this-test');
    const headers = { authorization: 'Bearer a-token-for-this-test' };
    const first = await fetch(`${graph.url}/v1.0/users/delta`, { headers });
    const deltaLink = ((await first.json()) as Record<string, string>)['@odata.deltaLink'];
    graph.usersDelta.expireTokens();
    const res = await fetch(deltaLink, { headers });
    expect(res.status).to.equal(410);
    expect(res.headers.get('location')).to.equal(`${graph.url}/v1.0/users/delta?$deltatoken=`);
    expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('syncStateNotFound');
  });
});
