import { join } from 'node:path';
import { expect } from 'chai';
import got from 'got';
import sqlite3 from 'sqlite3';
import { API_TOKEN, startGateway, usePostgres, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { Receiver } from '../providers/receiver.js';
import { dispatcher } from '../delivery/helpers.js';
import { createInstance, listEvents, pollNow, providerConnector, registerConnector } from '../poller/helpers.js';

/**
 * The database failing under a poll or a delivery (here: another connection holds SQLite's write
 * lock past the gateway's busy timeout) is not the work's failure and makes up no outcome: a poll
 * now answers 503, the object gets no back-off and no `lastError`; a delivery whose attempt cannot
 * be recorded is left to its lease: it goes out again, with the same id, once that expires. Both are
 * logged and counted in `pollgate_errors_total`. (Webhook ingress: test/webhooks/unavailable.test.ts.)
 */
const MINUTE = 60_000;

describe('polls and deliveries while the database is locked', () => {
  if (usePostgres) return;

  let t: TestGateway;
  let provider: EmulatedProvider;
  let receiver: Receiver;
  let other: sqlite3.Database;
  const run = (sql: string) => new Promise<void>((resolve, reject) => other.run(sql, (err) => (err ? reject(err) : resolve())));
  const errorsCounted = async (labels: string) => {
    const text = await got(`${t.url}/metrics`, { headers: { authorization: `Bearer ${API_TOKEN}` } }).text();
    return Number(new RegExp(`^pollgate_errors_total\\{${labels}\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  };

  beforeEach(async () => {
    t = await startGateway({ config: { database: { busyTimeoutMs: 100 } } });
    provider = await EmulatedProvider.start();
    provider.now = () => t.clock.now();
    receiver = await Receiver.start();
    await registerConnector(t, providerConnector('crm'));
    // Another process's connection to the same file.
    other = new sqlite3.Database(join(t.dataDir, 'pollgate.db'));
  });

  afterEach(async () => {
    await new Promise((resolve) => other.close(resolve));
    await t.close();
    await provider.close();
    await receiver.close();
  });

  it('a poll the database fails under answers 503, counts no failure of the object, and runs in full once it answers', async () => {
    const { id } = await createInstance(t, 'crm', provider.url);
    t.clock.advance(MINUTE);
    provider.collection('contacts').upsert({ name: 'Ada' });
    // The write lock is taken while the provider answers: the poll's events cannot be committed.
    let lockNext = true;
    provider.route('GET', '/contacts', async () => {
      if (lockNext) await run('BEGIN EXCLUSIVE');
      lockNext = false;
      return { status: 200, body: provider.collection('contacts').all() };
    });

    const refused = await t.api.post(`instances/${id}/events/poll`);
    await run('ROLLBACK');
    expect(refused.statusCode, JSON.stringify(refused.body)).to.equal(503);
    expect(refused.body).to.include({ code: 'DATABASE_UNAVAILABLE' });
    expect(refused.headers['retry-after']).to.equal('5');
    const { objects } = (await t.api.get(`instances/${id}/status`)).body as unknown as {
      objects: Record<string, { lastError: string | null; consecutiveFailures: number }>;
    };
    expect(objects.contacts).to.include({ lastError: null, consecutiveFailures: 0 });
    expect(await errorsCounted('component="poll",kind="database_unavailable"')).to.equal(1);

    // Its lease could not be given back either (the lock held): the poll runs when it expires.
    t.clock.advance(2 * MINUTE + 1000);
    expect((await pollNow(t, id)).contacts).to.include({ fetched: 1, created: 1 });
    expect((await listEvents(t, id)).map((e) => e.eventType)).to.deep.equal(['CREATED']);
  });

  it('a delivery whose attempt cannot be recorded is counted, marked neither delivered nor failed, and sent again with the same id after its lease', async () => {
    const { id } = await createInstance(t, 'crm', provider.url, { 'event.notification.callback.url': `${receiver.url}/hook` });
    // A first pass with nothing due (it also runs the hourly retention, a write of its own).
    expect(await dispatcher(t).tick()).to.equal(0);
    t.clock.advance(MINUTE);
    provider.collection('contacts').upsert({ name: 'Ada' });
    await pollNow(t, id);

    // The receiver answers after a second; meanwhile the write lock is taken.
    receiver.respondWith({ status: 200, delayMs: 1000 });
    const pass = dispatcher(t).tick();
    const [first] = await receiver.waitFor(1);
    await run('BEGIN EXCLUSIVE');
    expect(await pass).to.equal(1);
    await run('ROLLBACK');
    expect(await errorsCounted('component="delivery",kind="database_unavailable"')).to.equal(1);
    const notificationId = String(first.headers['webhook-id']);
    const pending = (await t.api.get(`notifications/${notificationId}`)).body as unknown as { status: string; attemptCount: number };
    // Not recorded as delivered (nor failed): still under this node's lease, no attempt counted.
    expect(pending).to.include({ status: 'delivering', attemptCount: 0 });

    // After the lease (60 s) it goes out again, with the same webhook-id, and is recorded.
    t.clock.advance(MINUTE + 1000);
    expect(await dispatcher(t).tick()).to.equal(1);
    const [, again] = await receiver.waitFor(2);
    expect(again.headers['webhook-id']).to.equal(notificationId);
    expect((await t.api.get(`notifications/${notificationId}`)).body).to.include({ status: 'delivered', attemptCount: 1 });
  });
});
