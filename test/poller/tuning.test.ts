import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { createInstance, providerConnector, registerConnector } from './helpers.js';

/**
 * Tuning poll intervals: jitter keeps an object on its own phase; per-object intervals; and the
 * capped back-off of an object that keeps failing, shown in status and reset by a success. (The
 * 10,000-instance burst is in burst.test.ts, with the end-to-end tests.)
 */
const MINUTE = 60_000;
interface ObjectStatus {
  intervalSeconds: number;
  nextPollDate: string;
  consecutiveFailures: number;
  backoffUntil: string | null;
  lastError: string | null;
}

describe('tuning poll intervals', () => {
  let provider: EmulatedProvider;
  let t: TestGateway | undefined;

  beforeEach(async () => {
    provider = await EmulatedProvider.start();
  });

  afterEach(async () => {
    await t?.close();
    t = undefined;
    await provider.close();
  });

  it('without jitter, a poll started a little late keeps the cadence; one started an interval late counts from its start', async () => {
    t = await startGateway({ config: { poller: { jitterSeconds: 0 } } });
    provider.now = () => t!.clock.now();
    provider.collection('contacts');
    await registerConnector(t, providerConnector('crm'));
    const { id } = await createInstance(t, 'crm', provider.url, { 'event.poller.refresh_interval': '5' });
    const next = async () =>
      Date.parse(((await t!.api.get(`instances/${id}/status`)).body as unknown as { objects: Record<string, ObjectStatus> }).objects.contacts.nextPollDate);
    const due = await next();
    t.clock.set(due + 7_000); // 7 s late: the next poll stays on the 5-minute grid
    expect(await t.gateway.poller.tick()).to.equal(1);
    await t.gateway.poller.idle();
    expect(await next()).to.equal(due + 5 * MINUTE);
    t.clock.set(due + 5 * MINUTE + 6 * MINUTE); // later than a whole interval: no catch-up burst
    expect(await t.gateway.poller.tick()).to.equal(1);
    await t.gateway.poller.idle();
    expect(await next()).to.equal(t.clock.now() + 5 * MINUTE);
  });

  it('keeps an object on its interval once spread, and takes per-object intervals', async () => {
    t = await startGateway({ config: { poller: { jitterSeconds: 60 } } });
    provider.now = () => t!.clock.now();
    provider.collection('contacts');
    provider.collection('tickets');
    await registerConnector(
      t,
      providerConnector('crm', {
        poller: {
          contacts: { url: "/contacts?updated_since=${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSS'Z'}", idField: 'id' },
          tickets: { url: "/tickets?updated_since=${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSS'Z'}", idField: 'id', refresh_interval: 30 },
        },
      }),
    );
    const { id } = await createInstance(t, 'crm', provider.url, { 'event.poller.refresh_interval': '5' });
    const status = async () => ((await t!.api.get(`instances/${id}/status`)).body as unknown as { objects: Record<string, ObjectStatus> }).objects;
    let s = await status();
    expect(s.contacts.intervalSeconds).to.equal(300);
    expect(s.tickets.intervalSeconds).to.equal(1800);
    const created = t.clock.now();
    const first = Date.parse(s.contacts.nextPollDate);
    // The first poll falls in the last jitter window of the first interval.
    expect(first).to.be.within(created + 4 * MINUTE + 1, created + 5 * MINUTE);
    t.clock.set(first + 300);
    expect(await t.gateway.poller.tick()).to.equal(1);
    await t.gateway.poller.idle();
    s = await status();
    expect(Date.parse(s.contacts.nextPollDate)).to.equal(first + 5 * MINUTE);

    // An instance-level override per object, as event.poller.configuration.<type>.refresh_interval.
    const patched = await t.api.patch(`instances/${id}`, {
      json: {
        configuration: {
          'event.poller.configuration': {
            contacts: { url: "/contacts?updated_since=${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSS'Z'}", idField: 'id', refresh_interval: '2' },
          },
        },
      },
    });
    expect(patched.statusCode).to.equal(200);
    s = await status();
    expect(s.contacts.intervalSeconds).to.equal(120);
    expect(Object.keys(s)).to.deep.equal(['contacts']);
    const bad = await t.api.patch(`instances/${id}`, {
      json: { configuration: { 'event.poller.configuration': { contacts: { url: '/contacts', idField: 'id', refresh_interval: '0.1' } } } },
    });
    expect(bad.statusCode).to.equal(400);
    expect(JSON.stringify(bad.body)).to.match(/event\.poller\.configuration\.contacts\.refresh_interval.*must be between 1 and/);
  });

  it('backs off an object that keeps failing, doubling up to the cap, shows it in status, and resets on success', async () => {
    t = await startGateway({ config: { poller: { backoffBaseSeconds: 60, backoffMaxSeconds: 600 } } });
    provider.now = () => t!.clock.now();
    provider.collection('contacts');
    await registerConnector(t, providerConnector('crm'));
    const { id } = await createInstance(t, 'crm', provider.url, { 'event.poller.refresh_interval': '1' });
    const contacts = async () => ((await t!.api.get(`instances/${id}/status`)).body as unknown as { objects: { contacts: ObjectStatus } }).objects.contacts;
    const waits: number[] = [];
    // Six polls of three provider attempts each fail; the seventh poll succeeds.
    provider.failNext(18, { status: 500, body: {} }, { path: '/contacts' });
    for (let i = 0; i < 6; i++) {
      const due = Date.parse((await contacts()).nextPollDate);
      t.clock.set(due);
      expect(await t.gateway.poller.tick()).to.equal(1);
      await t.gateway.poller.idle();
      const s = await contacts();
      expect(s.consecutiveFailures).to.equal(i + 1);
      expect(s.backoffUntil).to.equal(s.nextPollDate);
      waits.push((Date.parse(s.nextPollDate) - due) / 1000);
    }
    expect(waits).to.deep.equal([60, 120, 240, 480, 600, 600]);

    const due = Date.parse((await contacts()).nextPollDate);
    t.clock.set(due);
    await t.gateway.poller.tick();
    await t.gateway.poller.idle();
    const healthy = await contacts();
    expect(healthy).to.include({ consecutiveFailures: 0, backoffUntil: null, lastError: null });
    expect(Date.parse(healthy.nextPollDate)).to.equal(due + MINUTE);
  });

  it('a started node holds at most 4 × concurrency claimed polls unstarted, and claims the rest as those start, not a tick later', async () => {
    t = await startGateway({ config: { poller: { concurrency: 1, tickSeconds: 60 } } });
    provider.now = () => t!.clock.now();
    provider.collection('contacts');
    await registerConnector(t, providerConnector('crm'));
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) ids.push((await createInstance(t, 'crm', provider.url, { 'event.poller.refresh_interval': '1' })).id);
    const polled = async () => {
      let n = 0;
      for (const id of ids) {
        const objects = ((await t!.api.get(`instances/${id}/status`)).body as unknown as { objects: Record<string, { lastPollDate: string | null }> }).objects;
        n += Object.values(objects).filter((o) => o.lastPollDate !== null).length;
      }
      return n;
    };
    t.clock.advance(MINUTE);
    const poller = t.gateway.poller;
    poller.start();
    try {
      // The timer's first tick is a minute away: this one claims 4 of the 6 due, the rest follow.
      expect(await poller.tick()).to.equal(4);
      for (let i = 0; i < 200 && (await polled()) < 6; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await polled()).to.equal(6);
    } finally {
      // Polls due within the next tick (a minute here) are claimed ahead: stopping gives them back.
      await poller.stop();
    }
  });
});
