import { expect } from 'chai';
import { docInstanceJsons, eventTriples, postHook } from '../catalog.js';
import { startPacedGateway } from '../paced-gateway.js';
import type { CatalogGateway } from '../catalog.js';
import { REDACTED } from '../../../src/secrets/redact.js';
import { AIRTABLE_WEBHOOK_LIFE_MS, AirtableEmulator } from './emulator.js';

/**
 * Webhook mode: the doc page's webhook instance JSON creates a webhook on the table (its MAC secret
 * kept as the instance's encrypted webhook.secret, its id as airtable.webhook.id), each ping — its
 * X-Airtable-Content-MAC checked with the base64-decoded secret — reads the webhook's payloads from
 * the stored cursor now, and the refresh loop extends the webhook halfway to its 7-day expiry, on
 * the manual clock.
 */
const json = docInstanceJsons('airtable').find((j) => j.configuration['event.vendor.type'] === 'webhook')!;
const DOC = json.configuration;

describe('connector airtable, webhook mode: a webhook per table, pings that read its payload log, refreshed before expiry', () => {
  let t: CatalogGateway;
  let at: AirtableEmulator;

  beforeEach(async () => {
    t = await startPacedGateway();
    at = await AirtableEmulator.start(String(DOC['airtable.base.id']), String(DOC['airtable.table']), String(DOC['api.key']));
    at.now = () => t.clock.now();
    at.rewriteAddress = (address) => address.replace('http://127.0.0.1:1', t.url);
  });

  afterEach(async () => {
    await t.close();
    await at.close();
  });

  async function createInstance(): Promise<{ id: number; webhookUrl: string; configuration: Record<string, unknown> }> {
    const res = await t.api.post('instances', { json: { ...json, configuration: { ...DOC, 'base.url': at.url } } });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    const body = res.body as unknown as { id: number; webhookUrl: string; configuration: Record<string, unknown> };
    return { ...body, webhookUrl: body.webhookUrl.replace('http://127.0.0.1:1', t.url) };
  }
  const creates = () => at.provider.requests.filter((r) => r.method === 'POST' && r.path === `/v0/bases/${DOC['airtable.base.id']}/webhooks`);
  const refreshes = () => at.provider.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/refresh'));
  const statusOf = async (id: number) =>
    ((await t.api.get(`instances/${id}/status`)).body as unknown as { webhooks?: Record<string, Record<string, unknown>> }).webhooks;
  async function runPoller(): Promise<number> {
    const claimed = await t.gateway.poller.tick();
    await t.gateway.poller.idle();
    return claimed;
  }

  it('creates the webhook on the table, keeps its MAC secret redacted; each ping reads the payloads from the stored cursor; a forged MAC is refused', async () => {
    at.change('recOld', { Name: 'before the instance' }, t.clock.now() - 86_400_000);
    const { id, webhookUrl, configuration } = await createInstance();
    const [create] = creates();
    expect(JSON.parse(create.body)).to.deep.equal({
      notificationUrl: webhookUrl.replace(t.url, 'http://127.0.0.1:1'),
      specification: { options: { filters: { dataTypes: ['tableData'], recordChangeScope: DOC['airtable.table'] } } },
    });
    const [hook] = at.liveWebhooks();
    // Kept (the pings below verify with it), answered redacted; the webhook's id kept to read its payloads.
    expect(configuration['webhook.secret']).to.equal(REDACTED);
    expect(configuration['airtable.webhook.id']).to.equal(hook.id);
    expect((await statusOf(id))!.webhook).to.include({ webhookId: hook.id, expiresAt: new Date(hook.expirationTime).toISOString() });

    expect(await runPoller()).to.equal(0);

    // A change pings; the ping (MAC good) is answered 200 with an empty body, as Airtable asks, and
    // makes the payload log due now: read from its start (no cursor yet), it names recNew as created.
    t.clock.advance(1000);
    await at.changeAndPing('recNew', { Name: 'new' });
    expect(at.pings.at(-1)).to.deep.equal({ webhookId: hook.id, status: 200, body: '' });
    expect(await runPoller()).to.equal(1);
    t.clock.advance(1000);
    await at.changeAndPing('recNew', { Name: 'edited' });
    expect(await runPoller()).to.equal(1);
    t.clock.advance(1000);
    await at.destroyAndPing(['recNew']);
    expect(await runPoller()).to.equal(1);
    // Each read starts at the cursor the last one answered: 1 (none given), then 2, then 3.
    expect(at.payloadReads.map((r) => r.cursor)).to.deep.equal([undefined, '2', '3']);
    // recOld, unchanged since before the instance, is in no payload: nothing for it. The deletion,
    // which no listing of records can show, is raised.
    expect(await eventTriples(t, id)).to.deep.equal([
      ['CREATED', 'records', 'recNew'],
      ['UPDATED', 'records', 'recNew'],
      ['DELETED', 'records', 'recNew'],
    ]);
    const events = (await t.api.get(`instances/${id}/events`)).body as unknown as Array<{ eventType: string; raw: unknown }>;
    expect(events.find((e) => e.eventType === 'UPDATED')?.raw).to.deep.equal({ cellValuesByFieldId: { Name: 'edited' } });

    // The same ping again reads from cursor 4 and raises nothing new; nothing is due without a ping.
    await at.ping(hook);
    expect(await runPoller()).to.equal(1);
    expect(at.payloadReads.at(-1)?.cursor).to.equal('4');
    expect(await runPoller()).to.equal(0);
    expect(await eventTriples(t, id)).to.have.length(3);

    // A ping MACed with another key (or with the base64 text as the key) is refused and polls nothing.
    expect(await at.ping(hook, Buffer.from('another key of thirty-two bytes!'))).to.equal(401);
    expect(await at.ping(hook, Buffer.from(hook.macSecret.toString('base64')))).to.equal(401);
    const unsigned = await postHook(webhookUrl, JSON.stringify({ base: { id: DOC['airtable.base.id'] }, webhook: { id: hook.id } }), {});
    expect(unsigned.statusCode).to.equal(401);
    expect(await runPoller()).to.equal(0);
  });

  it('reads a long payload log 50 at a time, raising each record change once, and goes on from the last cursor', async () => {
    const { id } = await createInstance();
    const [hook] = at.liveWebhooks();
    for (let i = 0; i < 120; i++) at.change(`rec${String(i).padStart(3, '0')}`, { Name: `n${i}` });
    await at.ping(hook);
    expect(await runPoller()).to.equal(1);
    expect(at.payloadReads.map((r) => r.cursor)).to.deep.equal([undefined, '51', '101']);
    const triples = await eventTriples(t, id);
    expect(triples).to.have.length(120);
    expect(new Set(triples.map(([type]) => type))).to.deep.equal(new Set(['CREATED']));
    at.change('rec000', { Name: 'again' });
    await at.ping(hook);
    expect(await runPoller()).to.equal(1);
    expect(at.payloadReads.at(-1)?.cursor).to.equal('121');
    expect((await eventTriples(t, id)).at(-1)).to.deep.equal(['UPDATED', 'records', 'rec000']);
  });

  it('refreshes the webhook halfway to its 7-day expiry; one that lapsed is created anew and the table polled', async () => {
    const { id } = await createInstance();
    const [hook] = at.liveWebhooks();
    expect(hook.expirationTime).to.equal(t.clock.now() + AIRTABLE_WEBHOOK_LIFE_MS);
    const tick = () => t.gateway.webhooks.refresher.tick();

    t.clock.advance(AIRTABLE_WEBHOOK_LIFE_MS / 2 - 60_000);
    expect(await tick()).to.equal(0);
    t.clock.advance(60_000);
    expect(await tick()).to.equal(1);
    expect(refreshes().map((r) => r.path)).to.deep.equal([`/v0/bases/${DOC['airtable.base.id']}/webhooks/${hook.id}/refresh`]);
    expect(hook.expirationTime).to.equal(t.clock.now() + AIRTABLE_WEBHOOK_LIFE_MS);
    expect((await statusOf(id))!.webhook).to.include({ webhookId: hook.id, expiresAt: new Date(hook.expirationTime).toISOString(), failedAttempts: 0 });
    expect(creates()).to.have.length(1);

    // The gateway away past the expiry: Airtable disabled the webhook; it is created anew (a new
    // MAC secret kept), the lapsed one deleted, and the table polled to catch up.
    t.clock.advance(AIRTABLE_WEBHOOK_LIFE_MS + 60_000);
    expect(await tick()).to.equal(1);
    expect(creates()).to.have.length(2);
    const [second] = at.liveWebhooks();
    expect(second.id).to.not.equal(hook.id);
    expect((await statusOf(id))!.webhook).to.include({ webhookId: second.id });
    expect(hook.deleted).to.equal(true);
    expect(await runPoller()).to.equal(1);
    // The new webhook's payloads are read from its start, not from the lapsed one's cursor.
    expect(at.payloadReads.map((r) => [r.webhookId, r.cursor])).to.deep.equal([[second.id, undefined]]);
    await at.changeAndPing('recLater', { Name: 'after the gap' });
    expect(at.pings.at(-1)).to.deep.include({ webhookId: second.id, status: 200 });
    expect(await runPoller()).to.equal(1);
    expect(await eventTriples(t, id)).to.deep.equal([['CREATED', 'records', 'recLater']]);
  });

  it('without event.poller.refresh_interval a ping still reads the payloads: the default interval is the safety net', async () => {
    const { 'event.poller.refresh_interval': _interval, ...withoutInterval } = DOC;
    const res = await t.api.post('instances', { json: { ...json, configuration: { ...withoutInterval, 'base.url': at.url } } });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    const { id } = res.body as unknown as { id: number };
    const [hook] = at.liveWebhooks();
    t.clock.advance(1000);
    await at.changeAndPing('recNew', { Name: 'new' });
    expect(await runPoller()).to.equal(1);
    expect(await eventTriples(t, id)).to.deep.equal([['CREATED', 'records', 'recNew']]);
    expect(at.payloadReads.map((r) => r.webhookId)).to.deep.equal([hook.id]);
  });

  it('deletes the webhook when the instance is deleted', async () => {
    const { id } = await createInstance();
    const [hook] = at.liveWebhooks();
    expect((await t.api.delete(`instances/${id}`)).statusCode).to.equal(200);
    expect(hook.deleted).to.equal(true);
    expect(at.liveWebhooks()).to.deep.equal([]);
  });
});
