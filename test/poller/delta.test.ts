import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider, type RouteRequest } from '../../sandbox/provider-server.js';
import { createInstance, listEvents, pollNow, providerConnector, registerConnector } from './helpers.js';

/**
 * Delta tokens on their own (docs/connectors.md "Delta tokens"), against a loopback provider with a
 * change log: without a token it lists every live item (pages by `pageToken`) and ends with a
 * `deltaToken`; with one it lists what changed since — removed items marked `@removed` — and a
 * token older than the log keeps answers 410 Gone. Delta links (the token is the next URL) too.
 */
interface Item {
  id: string;
  title: string;
  seq: number;
  removed?: boolean;
}

class ChangeLog {
  items = new Map<string, Item>();
  seq = 0;
  /** Tokens before this sequence have expired. */
  oldestToken = 0;
  put(id: string, title: string): void {
    this.items.set(id, { id, title, seq: ++this.seq });
  }
  remove(id: string): void {
    this.items.set(id, { ...this.items.get(id)!, removed: true, seq: ++this.seq });
  }
  /** The page at `start` of the listing since `since` (null: a full listing of live items). */
  page(since: number | null, start: number, size: number) {
    const all = [...this.items.values()]
      .filter((i) => (since === null ? !i.removed : i.seq > since))
      .sort((a, b) => a.seq - b.seq)
      .map((i) => (i.removed ? { id: i.id, '@removed': { reason: 'deleted' } } : { id: i.id, title: i.title }));
    const items = all.slice(start, start + size);
    const more = start + size < all.length;
    return { items, more, next: start + size };
  }
}

const itemsObject = (delta: Record<string, unknown> = {}) => ({
  url: '/items',
  idField: 'id',
  recordsPath: '$.items',
  pagination: { type: 'cursor', cursorParam: 'pageToken', cursorPath: '$.nextPageToken' },
  delta: { tokenPath: '$.deltaToken', tokenParam: 'token', removedPath: '$.`@removed', fullSyncQuery: { scope: 'all' }, ...delta },
});

describe('polling: delta tokens', () => {
  let provider: EmulatedProvider;
  let t: TestGateway;
  let log: ChangeLog;

  beforeEach(async () => {
    log = new ChangeLog();
    for (let i = 1; i <= 5; i++) log.put(`i${i}`, `item ${i}`);
    provider = await EmulatedProvider.start();
    t = await startGateway();
    provider.route('GET', '/items', (req: RouteRequest) => {
      const token = req.query.token;
      const since = token === undefined ? null : Number(token.replace(/^t/, ''));
      if (since !== null && since < log.oldestToken) return { status: 410, body: { error: 'token expired, full sync required' } };
      if (since === null && req.query.scope !== 'all') return { status: 400, body: { error: 'a full sync asks scope=all' } };
      if (since !== null && req.query.scope !== undefined) return { status: 400, body: { error: 'scope may not be combined with token' } };
      const { items, more, next } = log.page(since, Number(req.query.pageToken ?? 0), 2);
      return { status: 200, body: { items, ...(more ? { nextPageToken: String(next) } : { deltaToken: `t${log.seq}` }) } };
    });
    provider.route('GET', '/delta', (req: RouteRequest) => {
      const since = req.query.since === undefined ? null : Number(req.query.since);
      if (since !== null && since < log.oldestToken) return { status: 410, body: {} };
      const start = Number(req.query.skip ?? 0);
      const { items, more, next } = log.page(since, start, 2);
      const link = `${provider.url}/delta?${since === null ? '' : `since=${since}&`}skip=${next}`;
      return { status: 200, body: { value: items, ...(more ? { nextLink: link } : { deltaLink: `${provider.url}/delta?since=${log.seq}` }) } };
    });
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
  });

  async function instanceWith(object: Record<string, unknown>): Promise<number> {
    await registerConnector(t, providerConnector('deltas', { poller: { items: object } }));
    const { id } = await createInstance(t, 'deltas', provider.url);
    return id;
  }

  const tokensSent = () => provider.requests.filter((r) => r.path === '/items' && r.query.pageToken === undefined).map((r) => r.query.token ?? null);

  it('the first poll is a baseline full sync; the next ones send the stored token and raise only what changed, deletions as DELETED', async () => {
    const id = await instanceWith(itemsObject());
    expect((await pollNow(t, id)).items).to.include({ fetched: 5, created: 0, updated: 0, deleted: 0 });
    log.put('i2', 'item 2 renamed');
    log.put('i6', 'item 6');
    log.remove('i4');
    expect((await pollNow(t, id)).items).to.include({ fetched: 3, created: 1, updated: 1, deleted: 1 });
    expect((await pollNow(t, id)).items).to.include({ fetched: 0, created: 0, updated: 0, deleted: 0 });
    expect(tokensSent()).to.deep.equal([null, 't5', 't8']);
    const events = await listEvents(t, id);
    expect(events.map((e) => `${e.eventType} ${e.objectId}`).sort()).to.deep.equal(['CREATED i6', 'DELETED i4', 'UPDATED i2']);
  });

  it('a listing that fails part-way keeps the old token: the next poll lists the same changes again, raised once', async () => {
    const id = await instanceWith(itemsObject());
    await pollNow(t, id);
    for (const n of [1, 2, 3]) log.put(`i${n}`, `changed ${n}`);
    provider.failNext(1, { status: 500, body: {} }, { path: '/items' });
    // The failure hits the first page; its retry answers, the second page fails every attempt.
    provider.failNext(4, { status: 500, body: {} }, { path: '/items' });
    expect((await pollNow(t, id)).items.error).to.match(/500/);
    expect((await pollNow(t, id)).items).to.include({ fetched: 3, updated: 3 });
    expect(tokensSent().filter((x) => x === 't5').length).to.be.greaterThan(1);
    expect((await listEvents(t, id)).filter((e) => e.eventType === 'UPDATED')).to.have.length(3);
  });

  it('a full resync after a 410 raises events only for what changed', async () => {
    const id = await instanceWith(itemsObject());
    for (let i = 6; i <= 40; i++) log.put(`i${i}`, `item ${i}`);
    await pollNow(t, id);
    log.put('i7', 'item 7 renamed');
    log.put('i41', 'item 41');
    log.remove('i9');
    // The provider forgot the history behind the stored token: it answers 410 Gone.
    log.oldestToken = log.seq;
    const summary = (await pollNow(t, id)).items;
    expect(summary).to.include({ created: 1, updated: 1, deleted: 1 });
    expect(summary.fetched).to.equal(40);
    const events = await listEvents(t, id);
    expect(events.map((e) => `${e.eventType} ${e.objectId}`).sort()).to.deep.equal(['CREATED i41', 'DELETED i9', 'UPDATED i7']);
    // The resync stored a fresh token: the next poll is incremental again.
    log.put('i1', 'item 1 renamed');
    expect((await pollNow(t, id)).items).to.include({ fetched: 1, updated: 1 });
    expect(tokensSent()).to.deep.equal([null, 't40', null, 't43']);
  });

  it('a delta link: the token is the next listing URL, followed within the listing origin', async () => {
    const id = await instanceWith({
      url: '/delta',
      idField: 'id',
      recordsPath: '$.value',
      pagination: { type: 'link', nextUrlPath: '$.nextLink' },
      delta: { tokenPath: '$.deltaLink', removedPath: '$.`@removed' },
    });
    expect((await pollNow(t, id)).items).to.include({ fetched: 5, created: 0 });
    log.put('i3', 'renamed');
    log.remove('i5');
    expect((await pollNow(t, id)).items).to.include({ fetched: 2, updated: 1, deleted: 1 });
    const firsts = provider.requests.filter((r) => r.path === '/delta' && r.query.skip === undefined).map((r) => r.query.since ?? null);
    expect(firsts).to.deep.equal([null, '5']);
    log.oldestToken = log.seq + 1;
    log.put('i1', 'renamed');
    expect((await pollNow(t, id)).items).to.include({ fetched: 4, updated: 1, created: 0, deleted: 0 });
  });

  it('refuses a broken delta definition at load, each problem at its field', async () => {
    const bad = providerConnector('deltas-bad', {
      poller: {
        items: { ...itemsObject({ tokenPath: '$[', fullSyncQuery: { token: 'x' } }), url: '/items?token=1' },
        log: { ...itemsObject({ tokenParam: 'since', fullSyncQuery: { all: '1' } }), events: { objectId: '$.id', eventType: 'UPDATED' } },
        gone: { ...itemsObject(), deleted: { url: '/deleted' } },
      },
    });
    const res = await t.api.post('elements', { json: bad });
    expect(res.statusCode).to.equal(400);
    const details = (res.body as unknown as { details: Array<{ field: string; message: string }> }).details;
    const fields = details.map((d) => d.field);
    expect(fields).to.include.members([
      '/events/poller/items/delta/tokenPath',
      '/events/poller/items/delta/tokenParam',
      '/events/poller/items/delta/fullSyncQuery',
      '/events/poller/log/delta/fullSyncQuery',
      '/events/poller/gone/delta',
    ]);
    // An event log read from a cursor (events beside delta) is read from its start without a token.
    expect(details.find((d) => d.field === '/events/poller/log/delta/fullSyncQuery')?.message).to.equal('an event log read from a cursor has no full sync');
    expect(details.find((d) => d.field === '/events/poller/gone/delta')?.message).to.equal(
      'cannot be combined with deleted (the token lists changes and deletions itself)',
    );
    expect(JSON.stringify(details)).to.match(/tokenPath/);
    expect((await t.api.get('elements/deltas-bad')).statusCode).to.equal(404);
  });
});
