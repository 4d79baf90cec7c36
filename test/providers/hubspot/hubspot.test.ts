import { expect } from 'chai';
import got from 'got';
import { createFromDoc, docInstanceJson, eventTriples, quietPoll, type CatalogGateway } from '../catalog.js';
import { pollNow } from '../../poller/helpers.js';
import { HUBSPOT_MAX_RESULTS, HubSpotEmulator } from './emulator.js';
import { startPacedGateway } from '../paced-gateway.js';

const TOKEN = docInstanceJson('hubspot').configuration['api.key'] as string;
const SECOND = 1000;

describe('connector hubspot (against the HubSpot emulator)', () => {
  let t: CatalogGateway;
  let hs: HubSpotEmulator;
  const searches = (type = 'contacts') => hs.provider.requests.filter((r) => r.path === `/crm/v3/objects/${type}/search`).map((r) => JSON.parse(r.body));

  beforeEach(async () => {
    t = await startPacedGateway();
    hs = await HubSpotEmulator.start(TOKEN);
    hs.provider.now = () => t.clock.now();
    hs.objects.contacts.seed(3, (i) => ({ email: `old${i}@example.com` }), t.clock.now() - 86_400_000);
  });

  afterEach(async function () {
    await t.close();
    await hs.close();
    // Every request the connector sent is valid for HubSpot's published descriptions (the first test sends invalid ones on purpose).
    if (!this.currentTest?.title.startsWith('the emulator answers')) expect(hs.invalidRequests).to.deep.equal([]);
  });

  it('the emulator answers as HubSpot documents: 401 INVALID_AUTHENTICATION, 400 VALIDATION_ERROR, the 10,000-result cap', async () => {
    const post = (json: unknown, token = TOKEN) => (
      t.clock.advance(
        SECOND,
      ), // one search a second: under HubSpot's secondly limit
      got.post(`${hs.baseUrl}/crm/v3/objects/contacts/search`, {
        json,
        headers: { authorization: `Bearer ${token}` },
        throwHttpErrors: false,
        responseType: 'json',
        retry: { limit: 0 },
      })
    );
    const denied = await post({ filterGroups: [], sorts: [], limit: 10 }, 'wrong');
    expect(denied.statusCode).to.equal(401);
    expect(denied.body).to.include({ status: 'error', category: 'INVALID_AUTHENTICATION' });
    const filter = (value: unknown) => ({ filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GTE', value }] }] });
    for (const bad of [
      { limit: 201 },
      { after: 'abc' },
      { after: String(HUBSPOT_MAX_RESULTS - 100), limit: 200 },
      { count: 5 },
      filter('2026-11-24T00:00:00Z'),
      { filterGroups: [{ filters: [{ propertyName: 'email', operator: 'LIKE', value: 'x' }] }] },
      { filterGroups: Array.from({ length: 6 }, () => filter('0').filterGroups[0]), sorts: [], limit: 10 },
    ]) {
      const res = await post(bad);
      expect(res.statusCode, JSON.stringify(bad)).to.equal(400);
      expect(res.body).to.include({ status: 'error', category: 'VALIDATION_ERROR' });
    }
    const ok = await post({ ...filter('0'), sorts: [], limit: 2 });
    expect(ok.body).to.deep.include({ total: 3, paging: { next: { after: '2', link: '?after=2' } } });
  });

  it("the doc page's instance JSON creates a working instance; old records raise nothing", async () => {
    const { id } = await createFromDoc(t, 'hubspot', hs.baseUrl);
    const created = t.clock.now();
    t.clock.advance(30 * SECOND);
    expect(await pollNow(t, id)).to.deep.equal(quietPoll('contacts', 'companies', 'deals'));
    expect(searches('contacts')[0]).to.deep.equal({
      filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GTE', value: String(created) }] }],
      sorts: [{ propertyName: 'lastmodifieddate', direction: 'ASCENDING' }],
      limit: 200,
    });
    expect(searches('deals')[0].filterGroups[0].filters[0].propertyName).to.equal('hs_lastmodifieddate');
  });

  it('creates and updates across pages arrive once each; the 10,000-result cap is crossed without losing or repeating a record', async function () {
    this.timeout(60_000); // 10,250 real records through 53 searches: the cap is HubSpot's, not scaled down
    const { id } = await createFromDoc(t, 'hubspot', hs.baseUrl);
    t.clock.advance(SECOND);
    const burst = HUBSPOT_MAX_RESULTS + 250;
    for (let i = 0; i < burst; i++) {
      hs.objects.contacts.upsert({ email: `c${i}@example.com` });
      t.clock.advance(10);
    }
    hs.objects.deals.upsert({ dealname: 'Big one' });
    t.clock.advance(SECOND);
    const first = await pollNow(t, id);
    expect(first.contacts, JSON.stringify([first, hs.invalidRequests.slice(0, 2)])).to.include({ fetched: HUBSPOT_MAX_RESULTS, created: HUBSPOT_MAX_RESULTS });
    expect(first.deals).to.include({ created: 1 });
    expect(searches().every((b) => b.after === undefined || Number(b.after) + 200 <= HUBSPOT_MAX_RESULTS)).to.equal(true);

    hs.objects.contacts.update(2, { email: 'edited@example.com' }); // an old contact, edited now
    t.clock.advance(SECOND);
    const second = await pollNow(t, id);
    expect(second.contacts).to.include({ created: 250, updated: 1 });
    const third = await pollNow(t, id);
    expect(third.contacts).to.include({ created: 0, updated: 0 });

    const events = await eventTriples(t, id);
    const contacts = events.filter((e) => e[1] === 'contacts');
    expect(contacts).to.have.length(burst + 1);
    expect(new Set(contacts.filter((e) => e[0] === 'CREATED').map((e) => e[2])).size).to.equal(burst);
    expect(contacts.filter((e) => e[0] === 'UPDATED')).to.deep.equal([['UPDATED', 'contacts', '2']]);
    expect(events.filter((e) => e[1] === 'deals')).to.deep.equal([['CREATED', 'deals', '1']]);
  });

  it('429 → waits and completes', async () => {
    const { id } = await createFromDoc(t, 'hubspot', hs.baseUrl);
    t.clock.advance(SECOND);
    hs.objects.companies.upsert({ name: 'Acme' });
    t.clock.advance(SECOND);
    hs.throttleNext(2);
    const result = await pollNow(t, id);
    expect(result.contacts.created + result.companies.created + result.deals.created).to.equal(1);
    expect(t.sleeps).to.have.length.greaterThan(1);
  });

  it('webhook mode: the v3 signature (method, URL, body, timestamp) is verified (401 otherwise) and each event of the array is mapped', async () => {
    const clientSecret = 'hs-client-secret-1234';
    const instance = await createFromDoc(t, 'hubspot', hs.baseUrl, { 'event.vendor.type': 'webhook', 'oauth.api.secret': clientSecret });
    const batch = [
      { subscriptionType: 'contact.creation', objectId: 501 },
      { subscriptionType: 'deal.propertyChange', objectId: 77, propertyName: 'dealstage', propertyValue: 'closedwon' },
      { subscriptionType: 'company.deletion', objectId: 9 },
    ];
    expect((await hs.notify(instance.hookUrl!, instance.webhookUrl!, batch, 'wrong-secret')).statusCode).to.equal(401);
    expect((await hs.notify(instance.hookUrl!, `${instance.webhookUrl}?other`, batch, clientSecret)).statusCode).to.equal(401);
    expect((await hs.notify(instance.hookUrl!, instance.webhookUrl!, batch, clientSecret)).statusCode).to.be.within(200, 299);
    await t.gateway.webhooks.processor.tick();
    expect(await eventTriples(t, instance.id)).to.have.deep.members([
      ['CREATED', 'contacts', '501'],
      ['UPDATED', 'deals', '77'],
      ['DELETED', 'companies', '9'],
    ]);
  });
});
