import { expect } from 'chai';
import got from 'got';
import { docInstanceJson, eventTriples, quietPoll, startCatalogGateway, type CatalogGateway } from '../catalog.js';
import { pollNow } from '../../poller/helpers.js';
import { SalesforceEmulator, sfId } from './emulator.js';

const CLIENT = { id: 'sf-consumer-key', secret: 'sf-consumer-secret' };
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const DAY = 86_400_000;
const sfParam = (ms: number) => new Date(ms).toISOString().replace('.000', '');

describe('connector salesforce (OAuth 2.0 with instance_url, against the Salesforce emulator)', () => {
  let t: CatalogGateway;
  let sf: SalesforceEmulator;

  beforeEach(async () => {
    t = await startCatalogGateway();
    sf = await SalesforceEmulator.start(CLIENT.id, CLIENT.secret);
    sf.provider.now = () => t.clock.now();
    sf.objects.Account.seed(3, (i) => ({ Name: `Old ${i}` }), t.clock.now() - 86_400_000);
  });

  afterEach(async () => {
    await t.close();
    await sf.close();
  });

  /** The doc page's instance JSON with its placeholders filled; only oauth.base.url points at the emulator. */
  async function createFromDoc(): Promise<number> {
    const fill: Record<string, string> = { '<code from the callback>': sf.issueCode(), '<consumer key>': CLIENT.id, '<consumer secret>': CLIENT.secret };
    const json = JSON.parse(JSON.stringify(docInstanceJson('salesforce')).replace(/<[^<>"]+>/g, (p) => fill[p] ?? p)) as Record<
      string,
      Record<string, unknown>
    >;
    json.configuration['oauth.base.url'] = sf.url;
    const res = await t.api.post('instances', { json });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    return (res.body as unknown as { id: number }).id;
  }

  it("the doc page's instance JSON: the code is exchanged, the API host comes from instance_url, old records raise nothing", async () => {
    const id = await createFromDoc();
    expect(sf.tokenRequests.map((r) => r.grant_type)).to.deep.equal(['authorization_code']);
    t.clock.advance(30 * SECOND);
    expect(await pollNow(t, id)).to.deep.equal(quietPoll('accounts', 'contacts', 'opportunities'));
    const query = sf.provider.requests.find((r) => r.path === '/services/data/v60.0/query' && r.query.q.includes('FROM Account'))!;
    const since = new Date(t.clock.now() - 30 * SECOND).toISOString().replace('.000', '');
    expect(query.query.q).to.equal(`SELECT Id, Name, SystemModstamp, CreatedDate FROM Account WHERE SystemModstamp > ${since} ORDER BY SystemModstamp ASC`);
    // getDeleted wants start more than a minute before end: the 30 s since the instance was created
    // are widened to two minutes.
    const deleted = sf.provider.requests.find((r) => r.path === '/services/data/v60.0/sobjects/Account/deleted/')!;
    expect(deleted.query).to.deep.equal({ start: sfParam(t.clock.now() - 2 * MINUTE), end: sfParam(t.clock.now()) });
  });

  it('a refused code answers 400 and creates nothing', async () => {
    const json = docInstanceJson('salesforce') as unknown as Record<string, Record<string, unknown>>;
    const res = await t.api.post('instances', {
      json: {
        ...json,
        providerData: { code: 'made-up' },
        configuration: { ...json.configuration, 'oauth.api.key': CLIENT.id, 'oauth.api.secret': CLIENT.secret, 'oauth.base.url': sf.url },
      },
    });
    expect(res.statusCode).to.equal(400);
    expect((res.body as unknown as { code: string }).code).to.equal('OAUTH_EXCHANGE_FAILED');
  });

  it('creates and updates across nextRecordsUrl batches arrive once each; getDeleted raises DELETED once', async () => {
    const id = await createFromDoc();
    sf.batchSize = 200;
    t.clock.advance(SECOND);
    for (let i = 0; i < 450; i++) {
      sf.objects.Account.upsert({ Name: `New ${i}` });
      t.clock.advance(SECOND);
    }
    sf.objects.Account.update(2, { Name: 'Old but renamed' });
    sf.objects.Opportunity.upsert({ Name: 'Deal', StageName: 'Prospecting' });
    t.clock.advance(SECOND);
    const first = await pollNow(t, id);
    expect(first.accounts).to.include({ fetched: 451, created: 450, updated: 1 });
    expect(first.opportunities).to.include({ created: 1 });
    expect(sf.provider.requests.filter((r) => r.path.startsWith('/services/data/v60.0/query/'))).to.have.length(2);

    t.clock.advance(2 * 60 * SECOND);
    sf.remove('Account', 10);
    sf.remove('Account', 1); // an old account, never seen, deleted now
    t.clock.advance(2 * 60 * SECOND);
    expect((await pollNow(t, id)).accounts).to.include({ created: 0, updated: 0, deleted: 2 });
    t.clock.advance(10 * SECOND);
    expect((await pollNow(t, id)).accounts).to.include({ deleted: 0 });

    const accounts = (await eventTriples(t, id)).filter((e) => e[1] === 'accounts');
    expect(accounts).to.have.length(453);
    expect(new Set(accounts.filter((e) => e[0] === 'CREATED').map((e) => e[2])).size).to.equal(450);
    expect(accounts.filter((e) => e[0] !== 'CREATED')).to.deep.equal([
      ['UPDATED', 'accounts', sfId('Account', 2)],
      ['DELETED', 'accounts', sfId('Account', 10)],
      ['DELETED', 'accounts', sfId('Account', 1)],
    ]);
  });

  it('an ended session (INVALID_SESSION_ID) is refreshed once and the poll completes; 429 waits and completes', async () => {
    const id = await createFromDoc();
    t.clock.advance(SECOND);
    sf.objects.Contact.upsert({ Name: 'Ada', Email: 'ada@example.com' });
    t.clock.advance(SECOND);
    sf.expireSessions();
    sf.throttleNext(1);
    const result = await pollNow(t, id);
    expect(result.contacts).to.include({ created: 1 });
    expect(sf.tokenRequests.map((r) => r.grant_type)).to.deep.equal(['authorization_code', 'refresh_token']);
    expect(t.sleeps).to.include(2000);
  });

  it('after an outage longer than getDeleted keeps (15 days), the window is clamped: the poll succeeds, recent deletions arrive, nothing stays stuck', async () => {
    const id = await createFromDoc();
    t.clock.advance(MINUTE);
    await pollNow(t, id);
    t.clock.advance(18 * DAY);
    sf.remove('Account', 2);
    t.clock.advance(2 * DAY);
    const summary = await pollNow(t, id);
    expect(summary.accounts).to.not.have.property('error');
    expect(summary.accounts).to.include({ deleted: 1 });
    const deleted = sf.provider.requests.filter((r) => r.path === '/services/data/v60.0/sobjects/Account/deleted/').at(-1)!;
    expect(deleted.query).to.deep.equal({ start: sfParam(t.clock.now() - 15 * DAY), end: sfParam(t.clock.now()) });
    t.clock.advance(5 * MINUTE);
    sf.remove('Account', 3);
    t.clock.advance(MINUTE);
    expect((await pollNow(t, id)).accounts).to.include({ deleted: 1 });
    expect((await eventTriples(t, id)).filter((e) => e[0] === 'DELETED')).to.deep.equal([
      ['DELETED', 'accounts', sfId('Account', 2)],
      ['DELETED', 'accounts', sfId('Account', 3)],
    ]);
  });

  it('a Salesforce outage of 16 days (503 to every call, polls failing) ends: the next poll succeeds and lists the deletions still in the log', async () => {
    const id = await createFromDoc();
    t.clock.advance(MINUTE);
    await pollNow(t, id);
    sf.provider.inspect = () => ({ status: 503, body: [{ message: 'Service Unavailable', errorCode: 'SERVER_UNAVAILABLE' }] });
    for (let day = 0; day < 16; day++) {
      t.clock.advance(DAY);
      expect((await pollNow(t, id)).accounts.error).to.match(/503/);
    }
    sf.remove('Account', 1);
    t.clock.advance(MINUTE);
    sf.provider.inspect = undefined;
    const summary = await pollNow(t, id);
    expect(summary.accounts).to.not.have.property('error');
    expect(summary.accounts).to.include({ deleted: 1 });
    expect((await t.api.get(`instances/${id}/status`)).statusCode).to.equal(200);
  });

  it('latestDateCovered before end: the next poll starts from it, so a deletion Salesforce had not processed yet is raised later', async () => {
    const id = await createFromDoc();
    t.clock.advance(MINUTE);
    await pollNow(t, id);
    const polledAt = t.clock.now();
    t.clock.advance(5 * MINUTE);
    sf.remove('Account', 1);
    sf.incompleteFrom = polledAt + 4 * MINUTE; // still in process when the next poll asks
    t.clock.advance(5 * MINUTE);
    expect((await pollNow(t, id)).accounts).to.include({ deleted: 0 });
    sf.incompleteFrom = undefined;
    t.clock.advance(10 * MINUTE);
    expect((await pollNow(t, id)).accounts).to.include({ deleted: 1 });
    const deleted = sf.provider.requests.filter((r) => r.path === '/services/data/v60.0/sobjects/Account/deleted/').at(-1)!;
    expect(deleted.query.start).to.equal(sfParam(polledAt + 4 * MINUTE));
    expect((await eventTriples(t, id)).filter((e) => e[0] === 'DELETED')).to.deep.equal([['DELETED', 'accounts', sfId('Account', 1)]]);
  });

  it('the emulator applies getDeleted’s documented rules: seconds ignored, more than a minute between start and end, nothing before the 15 days', async () => {
    await createFromDoc();
    const token = [...sf.accessTokens][0];
    const ask = (start: number, end: number) =>
      got(`${sf.url}/services/data/v60.0/sobjects/Account/deleted/`, {
        searchParams: { start: sfParam(start), end: sfParam(end) },
        headers: { authorization: `Bearer ${token}` },
        throwHttpErrors: false,
        responseType: 'json',
      });
    const now = t.clock.now() - (t.clock.now() % MINUTE) + 30 * SECOND;
    t.clock.set(now);
    const codes = async (start: number, end: number) => {
      const res = await ask(start, end);
      return [res.statusCode, res.statusCode === 200 ? 'ok' : (res.body as Array<{ errorCode: string }>)[0].errorCode];
    };
    expect(await codes(now - MINUTE, now)).to.deep.equal([400, 'INVALID_REPLICATION_DATE']); // 12:00:30–12:01:30 is 12:00–12:01
    expect(await codes(now - 2 * MINUTE, now)).to.deep.equal([200, 'ok']);
    const startOfDay = now - (now % DAY);
    expect(await codes(startOfDay - 15 * DAY - MINUTE, now)).to.deep.equal([400, 'INVALID_REPLICATION_DATE']);
    expect(await codes(startOfDay - 15 * DAY, now)).to.deep.equal([200, 'ok']);
  });
});
