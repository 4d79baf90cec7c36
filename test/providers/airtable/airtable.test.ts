import { expect } from 'chai';
import { createFromDoc, docInstanceJson, eventTriples, quietPoll, type CatalogGateway } from '../catalog.js';
import { pollNow } from '../../poller/helpers.js';
import { startPacedGateway } from '../paced-gateway.js';
import { AIRTABLE_MAX_PAGE_SIZE, AirtableEmulator } from './emulator.js';

const DOC = docInstanceJson('airtable').configuration;
const MINUTE = 60_000;

describe('connector airtable (against the Airtable emulator)', () => {
  let t: CatalogGateway;
  let at: AirtableEmulator;
  const lists = () => at.provider.requests.filter((r) => r.path === `/v0/${DOC['airtable.base.id']}/${DOC['airtable.table']}`);

  beforeEach(async () => {
    t = await startPacedGateway();
    at = await AirtableEmulator.start(String(DOC['airtable.base.id']), String(DOC['airtable.table']), String(DOC['api.key']));
    at.now = () => t.clock.now();
    at.change('recOld', { Name: 'before the instance' }, t.clock.now() - 86_400_000);
  });

  afterEach(async () => {
    await t.close();
    await at.close();
  });

  it("the doc page's instance JSON creates a working instance; the listing filters by last-modified time, 100 a page", async () => {
    const { id } = await createFromDoc(t, 'airtable', at.url);
    t.clock.advance(MINUTE);
    expect(await pollNow(t, id)).to.deep.equal(quietPoll('records'));
    const [first] = lists();
    expect(first.query.pageSize).to.equal(String(AIRTABLE_MAX_PAGE_SIZE));
    expect(first.query.filterByFormula).to.match(/^IS_AFTER\(LAST_MODIFIED_TIME\(\),'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z'\)$/);
    expect(first.headers.authorization).to.equal(`Bearer ${DOC['api.key']}`);
  });

  it('records created and changed after the instance raise one event each, across pages and within 5 requests a second', async () => {
    const { id } = await createFromDoc(t, 'airtable', at.url);
    t.clock.advance(MINUTE);
    await pollNow(t, id);
    for (let i = 0; i < 1050; i++) at.change(`rec${i}`, { Name: `R${i}` });
    t.clock.advance(MINUTE);
    expect((await pollNow(t, id)).records).to.deep.include({ fetched: 1050, created: 1050, updated: 0 });
    expect(lists().filter((r) => r.query.offset !== undefined).length).to.equal(10);
    at.change('rec3', { Name: 'renamed' });
    at.change('recOld', { Name: 'edited now' });
    t.clock.advance(MINUTE);
    expect((await pollNow(t, id)).records).to.deep.include({ created: 1, updated: 1 });
    t.clock.advance(MINUTE);
    expect(await pollNow(t, id)).to.deep.equal(quietPoll('records'));
    const events = await eventTriples(t, id);
    expect(events.length).to.equal(1052);
    expect(events.slice(-2)).to.have.deep.members([
      ['UPDATED', 'records', 'rec3'],
      ['CREATED', 'records', 'recOld'],
    ]);
    expect(at.throttled).to.equal(0);
    // Paced by the connector's rateLimit: no second holds more than 5 of the listing's requests.
    const times = lists().map((r) => r.at);
    for (const [i, time] of times.entries()) expect(times.filter((x) => x > time - 1000 && x <= time).length, `request ${i}`).to.be.at.most(5);
  });
});
