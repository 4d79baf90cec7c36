import { expect } from 'chai';
import { docOAuthInstanceJson, eventTriples, postHook, quietPoll, type CatalogGateway } from '../catalog.js';
import { pollNow } from '../../poller/helpers.js';
import { startPacedGateway } from '../paced-gateway.js';
import { CDC_MAX_OBJECTS, CDC_WINDOW_MS, QuickBooksEmulator } from './emulator.js';

const DOC = docOAuthInstanceJson('quickbooks');
// The doc's instance JSON hands the realmId on as Intuit's redirect gave it, in providerData.
const REALM = String(DOC.providerData.realmId);
const CLIENT = { id: String(DOC.configuration['oauth.api.key']), secret: String(DOC.configuration['oauth.api.secret']) };
const VERIFIER = 'verifier-token-example';
const MINUTE = 60_000;

describe('connector quickbooks (against the QuickBooks Online emulator)', () => {
  let t: CatalogGateway;
  let qbo: QuickBooksEmulator;
  const calls = (path: string) => qbo.provider.requests.filter((r) => r.path === `/v3/company/${REALM}/${path}`);

  beforeEach(async () => {
    t = await startPacedGateway();
    qbo = await QuickBooksEmulator.start(REALM, CLIENT);
    qbo.now = () => t.clock.now();
    qbo.change('Customer', '1', { DisplayName: 'Old customer' }, t.clock.now() - 86_400_000);
  });

  afterEach(async () => {
    await t.close();
    await qbo.close();
  });

  /** The doc page's instance JSON with a code the authorize step handed out. */
  async function create(configuration: Record<string, unknown> = {}) {
    const body = {
      ...DOC,
      providerData: { ...DOC.providerData, code: qbo.issueCode() },
      configuration: { ...DOC.configuration, 'base.url': qbo.url, 'oauth.base.url': qbo.url, ...configuration },
    };
    const res = await t.api.post('instances', { json: body });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    const created = res.body as unknown as { id: number; webhookUrl?: string };
    return { ...created, hookUrl: created.webhookUrl?.replace('http://127.0.0.1:1', t.url) };
  }

  it("the doc page's instance JSON creates a working instance; CDC is asked per entity from the instance's creation", async () => {
    const { id } = await create();
    // The realmId from the redirect (providerData) is the instance's company.
    const instance = (await t.api.get(`instances/${id}`)).body as unknown as { configuration: Record<string, unknown> };
    expect(instance.configuration['quickbooks.realm.id']).to.equal(REALM);
    const token = qbo.provider.requests.find((r) => r.path === '/oauth2/v1/tokens/bearer')!;
    expect(Object.fromEntries(new URLSearchParams(token.body))).to.include({ grant_type: 'authorization_code' });
    const created = t.clock.now();
    t.clock.advance(MINUTE);
    expect(await pollNow(t, id)).to.deep.equal(quietPoll('customers', 'invoices'));
    const [cdc] = calls('cdc');
    expect(cdc.query.entities).to.equal('Customer');
    expect(Date.parse(cdc.query.changedSince))
      .to.be.at.most(created)
      .and.at.least(created - 5 * MINUTE);
    expect(cdc.headers.authorization).to.match(/^Bearer qbo-at-/);
  });

  it('creations, updates and deletions through CDC raise one event each', async () => {
    const { id } = await create();
    t.clock.advance(MINUTE);
    await pollNow(t, id);
    qbo.change('Customer', '2', { DisplayName: 'New' });
    qbo.change('Invoice', '7', { TotalAmt: 10 });
    t.clock.advance(MINUTE);
    expect(await pollNow(t, id)).to.deep.equal({
      customers: { fetched: 1, created: 1, updated: 0, deleted: 0 },
      invoices: { fetched: 1, created: 1, updated: 0, deleted: 0 },
    });
    qbo.change('Customer', '2', { DisplayName: 'Renamed' });
    qbo.delete('Invoice', '7');
    t.clock.advance(MINUTE);
    await pollNow(t, id);
    t.clock.advance(MINUTE);
    await pollNow(t, id); // the overlap lists them again: nothing new
    expect(await eventTriples(t, id)).to.have.deep.members([
      ['CREATED', 'customers', '2'],
      ['CREATED', 'invoices', '7'],
      ['UPDATED', 'customers', '2'],
      ['DELETED', 'invoices', '7'],
    ]);
  });

  it('an answer at the 1,000-object cap is continued by the next poll, every record raised once', async () => {
    const { id } = await create();
    t.clock.advance(MINUTE);
    await pollNow(t, id);
    const start = t.clock.now();
    for (let i = 0; i < 1500; i++) qbo.change('Customer', `c${i}`, { DisplayName: `C${i}` }, start + i * 1000);
    t.clock.advance(1500 * 1000 + MINUTE);
    const first = await pollNow(t, id);
    expect(first.customers.created).to.equal(CDC_MAX_OBJECTS);
    const second = await pollNow(t, id);
    expect(second.customers.created).to.equal(500);
    const events = await eventTriples(t, id);
    expect(events.length).to.equal(1500);
    expect(new Set(events.map((e) => e[2])).size).to.equal(1500);
    // The second CDC request started near the first answer's last record, not at the instance's creation.
    const since = calls('cdc')
      .filter((r) => r.query.entities === 'Customer')
      .map((r) => Date.parse(r.query.changedSince));
    expect(since.at(-1)).to.be.greaterThan(start + 900 * 1000);
  });

  it('an answer at the cap whose records all changed within the overlap does not make the poller ask again at once', async () => {
    const { id } = await create();
    t.clock.advance(MINUTE);
    await pollNow(t, id);
    const at = t.clock.now() + MINUTE;
    for (let i = 0; i < CDC_MAX_OBJECTS + 1; i++) qbo.change('Customer', `s${i}`, {}, at);
    t.clock.advance(10 * MINUTE);
    const nextPoll = async () =>
      Date.parse(
        ((await t.api.get(`instances/${id}/status`)).body as unknown as { objects: Record<string, { nextPollDate: string }> }).objects.customers.nextPollDate,
      );
    expect((await pollNow(t, id)).customers.created).to.equal(CDC_MAX_OBJECTS);
    expect(await nextPoll()).to.be.at.most(t.clock.now()); // cut by the cap: on at once
    expect((await pollNow(t, id)).customers.created).to.equal(0); // the same answer again: nothing further to page
    expect(await nextPoll()).to.be.greaterThan(t.clock.now() + MINUTE);
  });

  it('a since-time past the 30-day window lists everything through the paged query operation, raising only what changed', async function () {
    this.timeout(60_000);
    const { id } = await create();
    t.clock.advance(MINUTE);
    // A second apart: the cap is crossed from the last record's date (1,000 changes in one second could not be).
    for (let i = 0; i < 1200; i++) qbo.change('Customer', `k${i}`, { DisplayName: `K${i}` }, t.clock.now() + i * 1000);
    t.clock.advance(1200 * 1000 + MINUTE);
    expect((await pollNow(t, id)).customers.created).to.equal(CDC_MAX_OBJECTS);
    expect((await pollNow(t, id)).customers.created).to.equal(200);
    const before = (await eventTriples(t, id)).length;
    t.clock.advance(CDC_WINDOW_MS + MINUTE);
    qbo.change('Customer', 'k5', { DisplayName: 'changed while away' });
    qbo.delete('Customer', 'k6');
    qbo.change('Customer', 'n1', { DisplayName: 'new while away' });
    qbo.expireAccessTokens();
    t.clock.advance(MINUTE);
    const cdcBefore = calls('cdc').length;
    const away = await pollNow(t, id);
    // Listed twice (the first baseline has no listing before it to tell deletions by): 2 × 1,201.
    expect(away.customers).to.deep.equal({ fetched: 2402, created: 1, updated: 1, deleted: 1 });
    // No invoice at all: the query answers an empty QueryResponse, an empty listing (not a failed poll).
    expect(away.invoices).to.deep.equal({ fetched: 0, created: 0, updated: 0, deleted: 0 });
    expect(calls('cdc').length - cdcBefore).to.equal(0); // both objects went through the query operation
    expect(calls('query').map((r) => r.query.query)).to.include.members([
      'select * from Customer startposition 1 maxresults 1000',
      'select * from Customer startposition 1001 maxresults 1000',
    ]);
    expect((await eventTriples(t, id)).slice(before)).to.have.deep.members([
      ['UPDATED', 'customers', 'k5'],
      ['DELETED', 'customers', 'k6'],
      ['CREATED', 'customers', 'n1'],
    ]);
    // Back inside the window: CDC again.
    t.clock.advance(MINUTE);
    await pollNow(t, id);
    expect(calls('cdc').some((r) => r.query.entities === 'Customer' && Date.parse(r.query.changedSince) > t.clock.now() - 10 * MINUTE)).to.equal(true);
  });

  it('each refresh uses the newest refresh token (Intuit replaces it at every refresh)', async () => {
    const { id } = await create();
    const refreshes = () =>
      qbo.provider.requests.filter((r) => r.path === '/oauth2/v1/tokens/bearer').map((r) => Object.fromEntries(new URLSearchParams(r.body)));
    for (let round = 0; round < 3; round++) {
      qbo.expireAccessTokens();
      t.clock.advance(MINUTE);
      const objects = await pollNow(t, id);
      expect(objects.customers.error, JSON.stringify(objects)).to.equal(undefined);
    }
    const grants = refreshes().filter((b) => b.grant_type === 'refresh_token');
    expect(grants.map((g) => g.refresh_token)).to.deep.equal(['qbo-rt-1', 'qbo-rt-2', 'qbo-rt-3']);
  });

  it('webhook mode: a notification signed with the verifier token raises its events; a wrong signature is refused', async () => {
    const { id, hookUrl } = await create({ 'event.vendor.type': 'webhook', 'quickbooks.webhook.verifier': VERIFIER });
    const note = qbo.notification(VERIFIER, [
      { name: 'Customer', id: '5', operation: 'Create' },
      { name: 'Invoice', id: '9', operation: 'Delete' },
      { name: 'Vendor', id: '3', operation: 'Update' },
    ]);
    const bad = await postHook(hookUrl!, note.body, { 'intuit-signature': 'AAAA' });
    expect(bad.statusCode).to.equal(401);
    const ok = await postHook(hookUrl!, note.body, note.headers);
    expect(ok.statusCode).to.be.within(200, 299);
    for (let i = 0; i < 50 && (await eventTriples(t, id)).length < 3; i++) await t.gateway.webhooks.processor.tick();
    expect(await eventTriples(t, id)).to.deep.equal([
      ['CREATED', 'customers', '5'],
      ['DELETED', 'invoices', '9'],
      ['UPDATED', 'Vendor', '3'],
    ]);
  });
});
