import { expect } from 'chai';
import got from 'got';
import { LinearWebhookClient } from '@linear/sdk/webhooks';
import { createFromDoc, docInstanceJson, eventTriples, quietPoll, type CatalogGateway, startCatalogGateway } from '../catalog.js';
import { pollNow } from '../../poller/helpers.js';
import { LinearEmulator } from './emulator.js';

const doc = docInstanceJson('linear').configuration;
const API_KEY = doc['api.key'] as string;
const WEBHOOK_SECRET = 'lin_wh_signing_secret_0123456789';
const SECOND = 1000;

describe('connector linear (against the Linear emulator and its published schema)', () => {
  let t: CatalogGateway;
  let linear: LinearEmulator;

  beforeEach(async () => {
    t = await startCatalogGateway();
    linear = await LinearEmulator.start(API_KEY);
    linear.provider.now = () => t.clock.now();
    t.clock.advance(-86_400_000);
    linear.create('old one');
    linear.create('old two');
    t.clock.advance(86_400_000);
  });

  afterEach(async () => {
    await t.close();
    await linear.close();
  });

  it("the doc page's instance JSON creates a working instance; old issues raise nothing; the API key goes as is", async () => {
    const { id } = await createFromDoc(t, 'linear', linear.baseUrl);
    t.clock.advance(60 * SECOND);
    expect(await pollNow(t, id)).to.deep.equal(quietPoll('issues'));
    const sent = linear.provider.requests.find((r) => r.path === '/graphql')!;
    expect(sent.headers.authorization).to.equal(API_KEY);
    expect(linear.documents).to.have.length(1);
    expect(linear.documents[0].errors).to.deep.equal([]);
    expect(linear.documents[0].variables).to.deep.include({ first: 50, since: new Date(t.clock.now() - 60 * SECOND).toISOString() });
  });

  it('issues created and updated arrive once each across pageInfo cursors, with their ids', async () => {
    const { id } = await createFromDoc(t, 'linear', linear.baseUrl);
    t.clock.advance(SECOND);
    const created = Array.from({ length: 120 }, (_, i) => {
      t.clock.advance(10);
      return linear.create(`new ${i}`);
    });
    const old = [...linear.issues.values()][0];
    linear.update(old.id, { title: 'old one, edited' });
    t.clock.advance(SECOND);
    expect((await pollNow(t, id)).issues).to.include({ fetched: 121, created: 120, updated: 1 });
    expect(linear.documents.map((d) => Boolean(d.variables.after))).to.deep.equal([false, true, true]);
    expect(linear.documents.every((d) => d.errors.length === 0)).to.equal(true);
    const events = await eventTriples(t, id);
    expect(new Set(events.filter((e) => e[0] === 'CREATED').map((e) => e[2]))).to.deep.equal(new Set(created.map((i) => i.id)));
    expect(events.filter((e) => e[0] === 'UPDATED')).to.deep.equal([['UPDATED', 'issues', old.id]]);
  });

  it('contract: a document the published schema does not allow is refused; so is a wrong key', async () => {
    const post = (query: string, variables: Record<string, unknown>, authorization = API_KEY) =>
      got.post(`${linear.baseUrl}/graphql`, {
        json: { query, variables },
        headers: { authorization },
        throwHttpErrors: false,
        responseType: 'json',
        retry: { limit: 0 },
      });
    const messages = (res: { body: unknown }) => (res.body as { errors: Array<{ message: string }> }).errors.map((e) => e.message).join('; ');
    const after = await post('query Q($since: DateTimeOrDuration!) { issues(filter: {updatedAt: {after: $since}}) { nodes { id } } }', {
      since: '2026-01-01T00:00:00Z',
    });
    expect(after.statusCode).to.equal(400);
    expect(messages(after)).to.match(/Field "after" is not defined by type "DateComparator"/);
    const order = await post('query Q { issues(orderBy: title) { nodes { id } } }', {});
    expect(messages(order)).to.match(/Value "title" does not exist in "PaginationOrderBy" enum/);
    const first = await post('query Q($first: Int!) { issues(first: $first) { nodes { id } } }', { first: 'fifty' });
    expect(messages(first)).to.match(/Int cannot represent non-integer value/);
    expect((await post('query Q { issues { nodes { id } } }', {}, 'lin_api_wrong')).statusCode).to.equal(401);
  });

  describe('webhooks', () => {
    const create = () => createFromDoc(t, 'linear', linear.baseUrl, { 'event.vendor.type': 'webhook', 'webhook.secret': WEBHOOK_SECRET });

    it("Linear-Signature over the body is verified (the SDK's own check agrees), webhookTimestamp within 60 s; Issue actions map to events", async () => {
      const { id, hookUrl } = await create();
      const issue = linear.create('pushed');
      expect((await linear.deliver(hookUrl!, 'create', issue, 'not-the-secret')).statusCode).to.equal(401);
      const stale = await linear.deliver(hookUrl!, 'create', issue, WEBHOOK_SECRET, t.clock.now() - 61 * SECOND);
      expect(stale.statusCode).to.equal(401);
      expect(JSON.parse(stale.body).message).to.equal('webhook signature check failed: timestamp outside tolerance');
      expect((await linear.deliver(hookUrl!, 'create', issue, WEBHOOK_SECRET, t.clock.now() - 59 * SECOND)).statusCode).to.equal(202);
      // @linear/sdk's verifier accepts what the emulator signs (it checks webhookTimestamp against the real clock).
      const real = linear.signed('create', issue, WEBHOOK_SECRET, Date.now());
      expect(new LinearWebhookClient(WEBHOOK_SECRET).verify(Buffer.from(real.body), real.signature)).to.equal(true);
      expect(() => new LinearWebhookClient('not-the-secret').verify(Buffer.from(real.body), real.signature)).to.throw(/Invalid webhook signature/);

      linear.update(issue.id, { priority: 1 });
      expect((await linear.deliver(hookUrl!, 'update', issue, WEBHOOK_SECRET)).statusCode).to.equal(202);
      expect((await linear.deliver(hookUrl!, 'remove', issue, WEBHOOK_SECRET)).statusCode).to.equal(202);
      await t.gateway.webhooks.processor.tick();
      // The three share one date (to the second): their order among themselves is not defined.
      expect(await eventTriples(t, id)).to.have.deep.members([
        ['CREATED', 'issues', issue.id],
        ['UPDATED', 'issues', issue.id],
        ['DELETED', 'issues', issue.id],
      ]);
    });
  });
});
