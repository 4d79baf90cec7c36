import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { XMLParser } from 'fast-xml-parser';
import qs from 'qs';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { Receiver } from '../providers/receiver.js';
import { createInstance, pollNow, providerConnector, registerConnector } from '../poller/helpers.js';
import { dispatcher, SIGNATURE_KEY, verifyRequest } from './helpers.js';

const MINUTE = 60_000;

describe('callback delivery', () => {
  let t: TestGateway;
  let provider: EmulatedProvider;
  let receiver: Receiver;

  beforeEach(async () => {
    t = await startGateway({ config: { delivery: { timeoutSeconds: 0.5, retrySchedule: [5, 300, 1800] } } });
    provider = await EmulatedProvider.start();
    provider.now = () => t.clock.now();
    receiver = await Receiver.start();
    await registerConnector(t, providerConnector('crm'));
    dispatcher(t).random = () => 0.5; // no jitter: exact retry times
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
    await receiver.close();
  });

  async function instanceWithChanges(count: number, configuration: Record<string, unknown> = {}) {
    const { id } = await createInstance(t, 'crm', provider.url, {
      'event.notification.callback.url': `${receiver.url}/hook`,
      'event.notification.signature.key': SIGNATURE_KEY,
      ...configuration,
    });
    t.clock.advance(MINUTE);
    for (let i = 0; i < count; i++) provider.collection('contacts').upsert({ name: `c${i}` });
    await pollNow(t, id);
    return id;
  }

  /** An instance's notifications, newest first, through the API. */
  async function notificationsOf(instanceId: number, status?: string) {
    return (await t.api.get(`instances/${instanceId}/notifications${status ? `?status=${status}` : ''}`)).body as unknown as Array<{
      id: string;
      status: string;
    }>;
  }

  async function notification(id: string) {
    return (await t.api.get(`notifications/${id}`)).body as unknown as {
      status: string;
      attemptCount: number;
      attempts: Array<{ statusCode: number | null; error: string | null }>;
      nextAttemptDate: string | null;
      responseData: unknown;
    };
  }

  it('delivers 25 changes as 3 signed notifications of at most 10 events, with sequence numbers', async () => {
    const id = await instanceWithChanges(25);
    expect(await dispatcher(t).drain()).to.equal(3);
    const received = await receiver.waitFor(3);
    const bodies = received.map(
      (r) =>
        r.body as {
          id: string;
          events: Array<{ objectId: string; sequence: number; eventType: string }>;
          raw: { contacts: unknown[] };
          instanceId: number;
          elementKey: string;
        },
    );
    expect(bodies.map((b) => b.events.length).sort()).to.deep.equal([10, 10, 5]);
    expect(bodies.flatMap((b) => b.events.map((e) => e.sequence)).sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 25 }, (_, i) => i + 1));
    for (const [i, r] of received.entries()) {
      await verifyRequest(t, id, r);
      expect(r.headers['webhook-id']).to.equal(bodies[i].id);
      expect(bodies[i].raw.contacts).to.have.length(bodies[i].events.length);
      expect(bodies[i]).to.include({ instanceId: id, elementKey: 'crm' });
      expect(bodies[i].events.every((e) => e.eventType === 'CREATED' && typeof e.objectId === 'string')).to.equal(true);
    }
    const events = (await t.api.get(`instances/${id}/events?pageSize=1`)).body as unknown as Array<{ notification: { status: string } }>;
    expect(events[0].notification.status).to.equal('delivered');
  });

  it('retries 500, 500, then 200 on the schedule with the same webhook-id', async () => {
    receiver.respondWith({ status: 500 }, { status: 500 });
    const id = await instanceWithChanges(1);
    await dispatcher(t).tick();
    const [n] = await notificationsOf(id);
    let state = await notification(n.id);
    expect(state).to.include({ status: 'pending', attemptCount: 1 });
    expect(Date.parse(state.nextAttemptDate!)).to.equal(t.clock.now() + 5000);
    expect(await dispatcher(t).tick()).to.equal(0); // not due yet
    t.clock.advance(5000);
    await dispatcher(t).tick();
    state = await notification(n.id);
    expect(Date.parse(state.nextAttemptDate!)).to.equal(t.clock.now() + 300_000);
    t.clock.advance(300_000);
    await dispatcher(t).tick();
    state = await notification(n.id);
    expect(state.status).to.equal('delivered');
    expect(state.attempts.map((a) => a.statusCode)).to.deep.equal([500, 500, 200]);
    const ids = receiver.received.map((r) => r.headers['webhook-id']);
    expect(ids).to.deep.equal([n.id, n.id, n.id]);
  });

  it('honours Retry-After on 429', async () => {
    receiver.respondWith({ status: 429, headers: { 'retry-after': '120' } });
    const id = await instanceWithChanges(1);
    await dispatcher(t).tick();
    const [n] = await notificationsOf(id);
    expect(Date.parse((await notification(n.id)).nextAttemptDate!)).to.equal(t.clock.now() + 120_000);
  });

  it('times out a receiver that never answers and retries it', async () => {
    receiver.respondWith({ status: 200, hang: true });
    const id = await instanceWithChanges(1);
    await dispatcher(t).tick();
    const [n] = await notificationsOf(id);
    const state = await notification(n.id);
    expect(state.status).to.equal('pending');
    expect(state.attempts[0].error).to.match(/timed out/);
    t.clock.advance(5000);
    await dispatcher(t).tick();
    expect((await notification(n.id)).status).to.equal('delivered');
  });

  it('goes dead when the schedule runs out, and replay delivers it', async () => {
    receiver.defaultStatus = 503;
    const id = await instanceWithChanges(1);
    for (const wait of [0, 5000, 300_000, 1_800_000]) {
      t.clock.advance(wait);
      await dispatcher(t).tick();
    }
    const [n] = await notificationsOf(id);
    expect(await notification(n.id)).to.include({ status: 'dead', attemptCount: 4 });
    receiver.defaultStatus = 200;
    t.clock.advance(MINUTE);
    const replay = await t.api.post(`instances/${id}/notifications/replay`, { json: { since: '2026-11-24T00:00:00Z' } });
    expect(replay.body).to.deep.equal({ replayed: 1 });
    await dispatcher(t).tick();
    expect((await notification(n.id)).status).to.equal('delivered');
    expect(receiver.received.at(-1)!.headers['webhook-id']).to.equal(n.id);
    expect((await t.api.post(`instances/${id}/notifications/replay`, { json: { since: 'yesterday' } })).statusCode).to.equal(400);
    expect((await t.api.post('notifications/ntf_nope/retry')).statusCode).to.equal(404);
  });

  it('410 Gone holds notifications, which go out in order once events are enabled again', async () => {
    receiver.respondWith({ status: 410 });
    const id = await instanceWithChanges(1);
    await dispatcher(t).tick();
    expect(((await t.api.get(`instances/${id}`)).body as unknown as { callbackDisabled: boolean }).callbackDisabled).to.equal(true);
    t.clock.advance(MINUTE);
    provider.collection('contacts').upsert({ name: 'while held' });
    await pollNow(t, id);
    t.clock.advance(MINUTE);
    expect(await dispatcher(t).tick()).to.equal(0);
    expect(await notificationsOf(id, 'pending')).to.have.length(2);

    await t.api.put(`instances/${id}/events/enabled`, { json: { enabled: true } });
    await dispatcher(t).drain();
    // Both held notifications went out (claimed oldest first; receivers order by `sequence`).
    const delivered = receiver.received.slice(1).map((r) => (r.body as { events: Array<{ sequence: number }> }).events[0].sequence);
    expect(delivered.sort()).to.deep.equal([1, 2]);
  });

  it('sends XML and form bodies that parse back to the same events', async () => {
    for (const format of ['xml', 'form'] as const) {
      receiver.received.length = 0;
      await t.gateway.db('notifications').delete();
      const id = await instanceWithChanges(2, { 'event.notification.callback.format': format });
      await dispatcher(t).drain();
      const [req] = await receiver.waitFor(1);
      let events: Array<{ objectId: string; eventType: string; sequence: string | number }>;
      if (format === 'xml') {
        expect(req.headers['content-type']).to.equal('application/xml');
        const doc = new XMLParser({ parseTagValue: false, isArray: (name) => name === 'event' }).parse(req.raw.toString());
        events = doc.notification.events.event;
        expect(JSON.parse(doc.notification.raw).contacts).to.have.length(2);
      } else {
        expect(req.headers['content-type']).to.equal('application/x-www-form-urlencoded');
        events = (qs.parse(req.raw.toString()) as unknown as { events: typeof events }).events;
      }
      expect(events.map((e) => [e.eventType, e.objectId])).to.have.length(2);
      expect(events.every((e) => e.eventType === 'CREATED')).to.equal(true);
      await verifyRequest(t, id, req);
    }
  });

  it('sends basic and bearer callback auth, extra headers and PUT', async () => {
    await instanceWithChanges(1, {
      'event.notification.callback.auth': 'basic',
      'event.notification.callback.username': 'u',
      'event.notification.callback.password': 'p@ss',
      'event.notification.callback.method': 'PUT',
      'event.notification.callback.headers': { 'X-Team': 'blue' },
    });
    await instanceWithChanges(1, { 'event.notification.callback.auth': 'bearer', 'event.notification.callback.token': 'tok-1' });
    await dispatcher(t).drain();
    const [a, b] = await receiver.waitFor(2);
    const byAuth = [a, b].sort((x) => (String(x.headers.authorization).startsWith('Basic') ? -1 : 1));
    expect(byAuth[0].headers.authorization).to.equal(`Basic ${Buffer.from('u:p@ss').toString('base64')}`);
    expect(byAuth[0].method).to.equal('PUT');
    expect(byAuth[0].headers['x-team']).to.equal('blue');
    expect(byAuth[1].headers.authorization).to.equal('Bearer tok-1');
  });

  it('refuses SSRF callback URLs with a 400 naming the rule', async () => {
    for (const [url, rule] of [
      ['http://169.254.169.254/latest/meta-data', /link-local/],
      ['http://10.0.0.7/hook', /private network/],
      ['http://[::ffff:169.254.169.254]/', /link-local/],
      ['ftp://example.com/x', /http and https/],
    ] as const) {
      const res = await t.api.post('instances', {
        json: { element: { key: 'crm' }, configuration: { base_url: provider.url, api_key: 'k', 'event.notification.callback.url': url } },
      });
      expect(res.statusCode, url).to.equal(400);
      expect(JSON.stringify(res.body), url).to.match(rule);
    }
    // Loopback is allowed by default (the tour); a gateway that forbids it refuses at send time too.
    const strict = await startGateway({ config: { network: { allowLoopback: false } } });
    try {
      const create = await strict.api.post('instances', {
        json: { element: { key: 'sandbox' }, configuration: { api_key: 'k', 'event.notification.callback.url': 'http://localhost:9/x' } },
      });
      expect(create.statusCode).to.equal(400);
      expect(JSON.stringify(create.body)).to.match(/loopback/);
    } finally {
      await strict.close();
    }
  });

  it('rotating the signing secret signs with both until the overlap ends', async () => {
    const id = await instanceWithChanges(1);
    const before = ((await t.api.get(`instances/${id}/signing-secret`)).body as unknown as { secret: string }).secret;
    const rotated = (await t.api.post(`instances/${id}/signing-secret/rotate`)).body as unknown as { secret: string };
    expect(rotated.secret)
      .to.match(/^whsec_/)
      .and.not.equal(before);
    await dispatcher(t).drain();
    const [req] = await receiver.waitFor(1);
    const sigs = String(req.headers['webhook-signature']).split(' ');
    expect(sigs).to.have.length(2);
    const ts = new Date(Number(req.headers['webhook-timestamp']) * 1000);
    for (const s of [before, rotated.secret]) expect(sigs).to.include(new Webhook(s).sign(String(req.headers['webhook-id']), ts, req.raw.toString()));
  });
});
