import { expect } from 'chai';
import got from 'got';
import { createFromDoc, docInstanceJson, eventTriples, quietPoll, type CatalogGateway, startCatalogGateway } from '../catalog.js';
import { pollNow } from '../../poller/helpers.js';
import { SlackEmulator } from './emulator.js';
import { startPacedGateway } from '../paced-gateway.js';

const doc = docInstanceJson('slack').configuration;
const TOKEN = doc['api.key'] as string;
const CHANNEL = doc['slack.channel'] as string;
const SIGNING_SECRET = doc['webhook.secret'] as string;
const SECOND = 1000;

describe('connector slack (against the Slack emulator)', () => {
  let t: CatalogGateway;
  let slack: SlackEmulator;

  beforeEach(async () => {
    t = await startCatalogGateway();
    slack = await SlackEmulator.start(TOKEN);
    slack.provider.now = () => t.clock.now();
    t.clock.advance(-86_400_000);
    slack.post(CHANNEL, 'old one');
    slack.post(CHANNEL, 'old two');
    t.clock.advance(86_400_000);
  });

  afterEach(async () => {
    await t.close();
    await slack.close();
  });

  it("the doc page's instance JSON creates a working instance; old messages raise nothing; the request is Slack's", async () => {
    const { id } = await createFromDoc(t, 'slack', slack.baseUrl);
    t.clock.advance(60 * SECOND);
    expect(await pollNow(t, id)).to.deep.equal(quietPoll('messages'));
    const sent = slack.provider.requests.find((r) => r.path === '/api/conversations.history')!;
    expect(sent.query).to.deep.equal({ channel: CHANNEL, oldest: String(Math.floor((t.clock.now() - 60 * SECOND) / 1000)), limit: '200' });
    expect(sent.headers.authorization).to.equal(`Bearer ${TOKEN}`);
  });

  it('new messages across cursor pages arrive once each, keyed by ts', async () => {
    const { id } = await createFromDoc(t, 'slack', slack.baseUrl);
    t.clock.advance(SECOND);
    const posted = Array.from({ length: 250 }, (_, i) => slack.post(CHANNEL, `new ${i}`));
    t.clock.advance(SECOND);
    expect((await pollNow(t, id)).messages).to.include({ fetched: 250, created: 250 });
    const pages = slack.provider.requests.filter((r) => r.path === '/api/conversations.history');
    expect(pages.map((r) => Boolean(r.query.cursor))).to.deep.equal([false, true]);
    const events = await eventTriples(t, id);
    expect(events).to.have.length(250);
    expect(new Set(events.map((e) => e[2]))).to.deep.equal(new Set(posted.map((m) => m.ts)));
    expect(events.every((e) => e[0] === 'CREATED' && e[1] === 'messages')).to.equal(true);
    // The next poll asks from the last one's start less the overlap: the same messages, nothing new.
    t.clock.advance(10 * SECOND);
    expect((await pollNow(t, id)).messages).to.include({ created: 0, updated: 0 });
    expect(await eventTriples(t, id)).to.have.length(250);
  });

  it("a refused token (Slack's HTTP 200 with ok: false) fails the poll with the reason instead of reading an empty channel", async () => {
    const { id } = await createFromDoc(t, 'slack', slack.baseUrl, { 'api.key': 'xoxb-revoked' });
    t.clock.advance(SECOND);
    slack.post(CHANNEL, 'unseen');
    t.clock.advance(SECOND);
    const summary = (await pollNow(t, id)).messages as { error?: string };
    expect(summary.error).to.match(/no records at \$\.messages/);
  });

  it('Tier 3: past 50 calls a minute Slack answers 429 with Retry-After, which the poll waits out', async () => {
    // A gateway whose waits move its clock, so Slack's minute passes while the poll waits.
    await t.close();
    t = await startPacedGateway();
    slack.provider.now = () => t.clock.now();
    const { id } = await createFromDoc(t, 'slack', slack.baseUrl);
    t.clock.advance(SECOND);
    slack.post(CHANNEL, 'after the burst');
    for (let i = 0; i < 50; i++) slack.rate.take(); // the app's other calls this minute
    t.clock.advance(SECOND);
    expect((await pollNow(t, id)).messages).to.include({ created: 1 });
    expect(t.sleeps.some((ms) => ms >= SECOND)).to.equal(true);
    const calls = slack.provider.requests.filter((r) => r.path === '/api/conversations.history');
    expect(calls.length).to.be.greaterThan(1);
  });

  it("contract: every request is valid against Slack's published Web API description; a broken one is refused", async () => {
    const { id } = await createFromDoc(t, 'slack', slack.baseUrl);
    t.clock.advance(SECOND);
    slack.post(CHANNEL, 'checked');
    t.clock.advance(SECOND);
    expect((await pollNow(t, id)).messages).to.include({ created: 1 });
    expect(slack.invalidRequests).to.deep.equal([]);

    for (const [query, error] of [
      ['oldest=yesterday', /\/query\/oldest must be number/],
      ['limit=many', /\/query\/limit must be integer/],
      ['inclusive=maybe', /\/query\/inclusive must be boolean/],
    ] as const) {
      const broken = await got(`${slack.baseUrl}/conversations.history?channel=${CHANNEL}&${query}`, {
        headers: { authorization: `Bearer ${TOKEN}` },
        responseType: 'json',
        retry: { limit: 0 },
      });
      expect(broken.body, query).to.deep.include({ ok: false, error: 'invalid_arguments' });
      expect(slack.invalidRequests.at(-1)!.errors.join('; '), query).to.match(error);
    }
    expect(slack.invalidRequests).to.have.length(3);
  });

  describe('Events API', () => {
    const create = () => createFromDoc(t, 'slack', slack.baseUrl, { 'event.vendor.type': 'webhook' });

    it('answers the url_verification challenge', async () => {
      const { hookUrl } = await create();
      const res = await slack.deliver(
        hookUrl!,
        { token: 'XXYYZZ', challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P', type: 'url_verification' },
        SIGNING_SECRET,
      );
      expect(res.statusCode).to.equal(200);
      expect(JSON.parse(res.body)).to.deep.equal({ challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P' });
    });

    it('verifies v0= signatures (401 for a wrong secret or a stale timestamp), dedupes retries by event_id and maps message events', async () => {
      const { id, hookUrl } = await create();
      const message = slack.post(CHANNEL, 'hello');
      const created = slack.callback('Ev01', {
        type: 'message',
        channel: CHANNEL,
        user: 'U0123ABCD',
        text: 'hello',
        ts: message.ts,
        event_ts: message.ts,
        channel_type: 'channel',
      });
      expect((await slack.deliver(hookUrl!, created, 'not-the-secret')).statusCode).to.equal(401);
      const stale = await slack.deliver(hookUrl!, created, SIGNING_SECRET, { at: t.clock.now() - 301 * SECOND });
      expect(stale.statusCode).to.equal(401);
      expect(JSON.parse(stale.body).message).to.equal('webhook signature check failed: timestamp outside tolerance');
      expect((await slack.deliver(hookUrl!, created, SIGNING_SECRET)).statusCode).to.equal(202);
      const retried = await slack.deliver(hookUrl!, created, SIGNING_SECRET, { retry: { num: 1, reason: 'http_timeout' } });
      expect(retried.statusCode).to.equal(202);
      expect(JSON.parse(retried.body)).to.deep.equal({ status: 'duplicate', deliveryId: 'Ev01' });

      const edited = slack.callback('Ev02', {
        type: 'message',
        subtype: 'message_changed',
        channel: CHANNEL,
        message: { ...message, text: 'hello, edited', edited: { user: 'U0123ABCD', ts: message.ts } },
        previous_message: message,
        ts: '1999999999.000001',
      });
      const deleted = slack.callback('Ev03', {
        type: 'message',
        subtype: 'message_deleted',
        channel: CHANNEL,
        deleted_ts: message.ts,
        ts: '1999999999.000002',
      });
      expect((await slack.deliver(hookUrl!, edited, SIGNING_SECRET)).statusCode).to.equal(202);
      expect((await slack.deliver(hookUrl!, deleted, SIGNING_SECRET)).statusCode).to.equal(202);
      await t.gateway.webhooks.processor.tick();
      // The three share one date (to the second): their order among themselves is not defined.
      expect(await eventTriples(t, id)).to.have.deep.members([
        ['CREATED', 'messages', message.ts],
        ['UPDATED', 'messages', message.ts],
        ['DELETED', 'messages', message.ts],
      ]);
    });
  });
});
