import { expect } from 'chai';
import { docInstanceJsons, eventTriples, postHook } from '../catalog.js';
import { startPacedGateway } from '../paced-gateway.js';
import type { CatalogGateway } from '../catalog.js';
import { REDACTED } from '../../../src/secrets/redact.js';
import { AIRTABLE_WEBHOOK_LIFE_MS, AirtableEmulator } from './emulator.js';

/**
 * Webhook mode: the doc page's webhook instance JSON creates a webhook on the table (its MAC secret
 * kept as the instance's encrypted webhook.secret), each ping — its X-Airtable-Content-MAC checked
 * with the base64-decoded secret — polls the table now, and the refresh loop extends the webhook
 * halfway to its 7-day expiry, on the manual clock.
 */
const json = docInstanceJsons('airtable').find((j) => j.configuration['event.vendor.type'] === 'webhook')!;
const DOC = json.configuration;

describe('connector airtable, webhook mode: a webhook per table, pings that poll, refreshed before expiry', () => {
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

  it('creates the webhook on the table, keeps its MAC secret redacted; a ping polls the table now, a forged MAC is refused', async () => {
    at.change('recOld', { Name: 'before the instance' }, t.clock.now() - 86_400_000);
    const { id, webhookUrl, configuration } = await createInstance();
    const [create] = creates();
    expect(JSON.parse(create.body)).to.deep.equal({
      notificationUrl: webhookUrl.replace(t.url, 'http://127.0.0.1:1'),
      specification: { options: { filters: { dataTypes: ['tableData'], recordChangeScope: DOC['airtable.table'] } } },
    });
    const [hook] = at.liveWebhooks();
    // Kept (the pings below verify with it), answered redacted.
    expect(configuration['webhook.secret']).to.equal(REDACTED);
    expect((await statusOf(id))!.webhook).to.include({ webhookId: hook.id, expiresAt: new Date(hook.expirationTime).toISOString() });

    expect(await runPoller()).to.equal(0);

    // A change pings; the ping (MAC good) makes the records listing due now.
    t.clock.advance(1000);
    await at.changeAndPing('recNew', { Name: 'new' });
    expect(at.pings.at(-1)).to.deep.equal({ webhookId: hook.id, status: 202 });
    expect(await runPoller()).to.equal(1);
    t.clock.advance(1000);
    await at.changeAndPing('recNew', { Name: 'edited' });
    expect(await runPoller()).to.equal(1);
    // recOld, unchanged since before the instance, is not listed: nothing for it.
    expect(await eventTriples(t, id)).to.deep.equal([
      ['CREATED', 'records', 'recNew'],
      ['UPDATED', 'records', 'recNew'],
    ]);

    // The same pings again poll again and raise nothing new; nothing is due without a ping.
    await at.ping(hook);
    expect(await runPoller()).to.equal(1);
    expect(await runPoller()).to.equal(0);
    expect(await eventTriples(t, id)).to.have.length(2);

    // A ping MACed with another key (or with the base64 text as the key) is refused and polls nothing.
    expect(await at.ping(hook, Buffer.from('another key of thirty-two bytes!'))).to.equal(401);
    expect(await at.ping(hook, Buffer.from(hook.macSecret.toString('base64')))).to.equal(401);
    const unsigned = await postHook(webhookUrl, JSON.stringify({ base: { id: DOC['airtable.base.id'] }, webhook: { id: hook.id } }), {});
    expect(unsigned.statusCode).to.equal(401);
    expect(await runPoller()).to.equal(0);
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
    expect(await at.changeAndPing('recLater', { Name: 'after the gap' }).then(() => at.pings.at(-1))).to.deep.equal({ webhookId: second.id, status: 202 });
  });

  it('deletes the webhook when the instance is deleted', async () => {
    const { id } = await createInstance();
    const [hook] = at.liveWebhooks();
    expect((await t.api.delete(`instances/${id}`)).statusCode).to.equal(200);
    expect(hook.deleted).to.equal(true);
    expect(at.liveWebhooks()).to.deep.equal([]);
  });
});
