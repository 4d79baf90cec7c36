import { expect } from 'chai';
import got from 'got';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider, type RouteRequest } from '../../sandbox/provider-server.js';
import { createInstance, listEvents, pollNow, providerConnector, registerConnector } from './helpers.js';

/**
 * Change logs read from a cursor on their own (docs/connectors.md "Change logs"): a poller object
 * with `events` beside `delta` whose listing is a log of transactions, each naming several changed
 * records keyed by their ids. Against a loopback provider: `GET /log?cursor=n&limit=2` answers the
 * transactions from n on, the cursor after the last one and whether more follow; without a cursor
 * it starts at 1.
 */
interface Transaction {
  txn: number;
  at: string;
  changes: { created?: Record<string, Record<string, unknown>>; updated?: Record<string, Record<string, unknown>>; removed?: string[] };
}

const logObject = {
  url: '/log',
  idField: 'txn',
  recordsPath: '$.entries[*]',
  pagination: { type: 'cursor', cursorPath: '$.cursor', cursorParam: 'cursor', hasMorePath: '$.more', sizeParam: 'limit', size: 2 },
  delta: { tokenPath: '$.cursor', tokenParam: 'cursor' },
  datesConfiguration: { updatedDateField: 'at', updatedDateFormat: "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'" },
  events: {
    itemsPath: '$.changes[created,updated,removed].*',
    objectId: ['$', '@key'],
    eventType: { from: '@path', pattern: "\\['(created|updated|removed)'\\]", map: { created: 'CREATED', updated: 'UPDATED', removed: 'DELETED' } },
  },
};

describe('polling: change logs read from a cursor (events beside delta)', () => {
  let provider: EmulatedProvider;
  let t: TestGateway;
  let log: Transaction[];
  /** The cursor of a page that answers 500 (every retry too) until it is cleared. */
  let failAt: number | undefined;
  /** Answers from the start whatever cursor is asked for. */
  let replayFromStart: boolean;

  const commit = (changes: Transaction['changes']) => log.push({ txn: log.length + 1, at: new Date(t.clock.now()).toISOString(), changes });
  const cursorsSent = () => provider.requests.filter((r) => r.path === '/log').map((r) => r.query.cursor ?? null);

  beforeEach(async () => {
    log = [];
    failAt = undefined;
    replayFromStart = false;
    provider = await EmulatedProvider.start();
    t = await startGateway();
    provider.route('GET', '/log', (req: RouteRequest) => {
      const cursor = replayFromStart && req.query.cursor !== undefined ? 1 : Number(req.query.cursor ?? 1);
      if (cursor === failAt) return { status: 500, body: { error: 'try again' } };
      const entries = log.slice(cursor - 1, cursor - 1 + Number(req.query.limit ?? 50));
      const next = cursor + entries.length;
      return { status: 200, body: { entries, cursor: next, more: next <= log.length } };
    });
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
  });

  async function instance(): Promise<number> {
    await registerConnector(t, providerConnector('changelog', { poller: { records: logObject } }));
    return (await createInstance(t, 'changelog', provider.url)).id;
  }
  const triples = async (id: number) => (await listEvents(t, id)).reverse().map((e) => [e.eventType, e.objectId]);

  it('reads from the start without a cursor (not a baseline, nothing swept), each item raising the changes it names; then from the stored cursor', async () => {
    const id = await instance();
    t.clock.advance(1000);
    commit({ created: { a: { name: 'A' }, b: { name: 'B' } } });
    commit({ updated: { a: { name: 'A2' } }, removed: ['b'] });
    commit({ created: { c: { name: 'C' } } });
    expect((await pollNow(t, id)).records).to.include({ fetched: 3 });
    expect(await triples(id)).to.deep.equal([
      ['CREATED', 'a'],
      ['CREATED', 'b'],
      ['UPDATED', 'a'],
      ['DELETED', 'b'],
      ['CREATED', 'c'],
    ]);
    expect(cursorsSent()).to.deep.equal([null, '3']);
    // Nothing new: the stored cursor (4) answers no items, and nothing is raised for what was not listed.
    expect((await pollNow(t, id)).records).to.include({ fetched: 0, created: 0, updated: 0, deleted: 0 });
    commit({ removed: ['a', 'c'] });
    await pollNow(t, id);
    expect(cursorsSent().slice(2)).to.deep.equal(['4', '4']);
    expect((await triples(id)).slice(5)).to.deep.equal([
      ['DELETED', 'a'],
      ['DELETED', 'c'],
    ]);
  });

  it('a listing that fails on a later page keeps the old cursor; items read again (a retry, a replaying provider) are not raised twice', async () => {
    const id = await instance();
    t.clock.advance(1000);
    for (const name of ['a', 'b', 'c', 'd']) commit({ created: { [name]: { name } } });
    failAt = 3;
    expect((await pollNow(t, id)).records.error).to.be.a('string');
    const retries = cursorsSent().length;
    failAt = undefined;
    // No cursor was stored: the log is read from its start again, each change raised once.
    await pollNow(t, id);
    expect(cursorsSent().slice(retries)).to.deep.equal([null, '3']);
    const once = [
      ['CREATED', 'a'],
      ['CREATED', 'b'],
      ['CREATED', 'c'],
      ['CREATED', 'd'],
    ];
    expect(await triples(id)).to.deep.equal(once);
    // A provider that answers from its start whatever the cursor: the items are known by id.
    replayFromStart = true;
    expect((await pollNow(t, id)).records).to.include({ fetched: 4, created: 0 });
    expect(await triples(id)).to.deep.equal(once);
  });

  it('webhook mode polls events.webhook.poller in place of events.poller, and answers a notification with acknowledgeStatus', async () => {
    const connector = providerConnector('changelog-hooks', {
      poller: { records: { url: '/records', idField: 'id' } },
      events: {
        supported: ['polling', 'webhook'],
        poller: { records: { url: '/records', idField: 'id' } },
        webhook: { signature: { scheme: 'none' }, acknowledgeStatus: 204, pollOnNotification: ['records'], poller: { records: logObject } },
      },
    } as never);
    await registerConnector(t, connector);
    const polling = await createInstance(t, 'changelog-hooks', provider.url);
    const webhook = await createInstance(t, 'changelog-hooks', provider.url, { 'event.vendor.type': 'webhook', 'event.poller.refresh_interval': '60' });
    t.clock.advance(1000);
    commit({ created: { a: { name: 'A' } } });
    await pollNow(t, webhook.id);
    expect(provider.requests.map((r) => r.path)).to.deep.equal(['/log']);
    expect(await triples(webhook.id)).to.deep.equal([['CREATED', 'a']]);
    provider.route('GET', '/records', () => ({ status: 200, body: [] }));
    await pollNow(t, polling.id);
    expect(provider.requests.map((r) => r.path)).to.deep.equal(['/log', '/records']);

    const notified = await got.post(String(webhook.webhookUrl).replace('http://127.0.0.1:1', t.url), { json: {}, throwHttpErrors: false });
    expect(notified.statusCode).to.equal(204);
    expect(notified.body).to.equal('');
  });

  it('refuses, at load, a notification naming an object webhook mode does not poll', async () => {
    const res = await t.api.post('elements', {
      json: providerConnector('changelog-bad', {
        events: {
          supported: ['webhook'],
          poller: { other: { url: '/records', idField: 'id' } },
          webhook: { signature: { scheme: 'none' }, pollOnNotification: ['other'], poller: { records: logObject } },
        },
      } as never),
    });
    expect(res.statusCode).to.equal(400);
    expect((res.body as unknown as { details: Array<{ field: string; message: string }> }).details).to.deep.include({
      field: '/events/webhook/pollOnNotification/0',
      message: 'names "other", which is not an object of events.webhook.poller',
    });
  });
});
