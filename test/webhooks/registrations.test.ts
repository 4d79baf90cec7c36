import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { SandboxProvider } from '../../sandbox/sandbox.js';
import { registerConnector } from '../poller/helpers.js';

/** The bundled sandbox connector with one webhook registration per topic instead of one in all. */
function topicsConnector(topics: Array<{ name: string; register?: string }>) {
  const def = JSON.parse(readFileSync(new URL('../../connectors/sandbox.json', import.meta.url), 'utf8'));
  const { register, deregister, webhookIdPath, ...webhook } = def.events.webhook;
  def.key = 'sandbox-topics';
  def.events.webhook = {
    ...webhook,
    registrations: topics.map((t) => ({ name: t.name, register: t.register ?? register, deregister, webhookIdPath, context: { topic: t.name } })),
  };
  def.requests.createWebhook.schema.body.topic = '<%= context.topic %>';
  def.requests.createBrokenWebhook = { schema: { method: 'POST', path: '/no-such-endpoint', body: { url: '<%= context.targetUrl %>' } } };
  return def;
}

describe('several webhook registrations per instance', () => {
  let t: TestGateway;
  let sandbox: SandboxProvider;

  beforeEach(async () => {
    t = await startGateway();
    sandbox = await SandboxProvider.start();
  });

  afterEach(async () => {
    await t.close();
    await sandbox.close();
  });

  const create = () =>
    t.api.post('instances', {
      json: { element: { key: 'sandbox-topics' }, configuration: { base_url: sandbox.url, api_key: 'k', 'event.vendor.type': 'webhook' } },
    });
  const topicsSent = () =>
    sandbox.provider.requests.filter((r) => r.method === 'POST' && r.path === '/webhooks').map((r) => (JSON.parse(r.body) as { topic: string }).topic);

  it('registers each topic, stores every id, and deregisters them all on DELETE', async () => {
    await registerConnector(t, topicsConnector([{ name: 'contacts' }, { name: 'tickets' }]));
    const res = await create();
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    expect(topicsSent()).to.deep.equal(['contacts', 'tickets']);
    const body = res.body as unknown as { id: number; webhookId: string; webhookIds: Record<string, string> };
    const ids = [...sandbox.subscriptions.keys()];
    expect(body.webhookIds).to.deep.equal({ contacts: ids[0], tickets: ids[1] });
    expect(body.webhookId).to.equal(ids[0]);

    expect((await t.api.delete(`instances/${body.id}`)).statusCode).to.equal(200);
    expect(sandbox.subscriptions.size).to.equal(0);
    const deletes = sandbox.provider.requests.filter((r) => r.method === 'DELETE').map((r) => r.path);
    expect(deletes).to.deep.equal(ids.map((id) => `/webhooks/${id}`));
  });

  it('a registration that fails undoes the ones made, answers 502 naming it, and leaves no instance', async () => {
    await registerConnector(t, topicsConnector([{ name: 'contacts' }, { name: 'tickets' }, { name: 'broken', register: 'createBrokenWebhook' }]));
    const res = await create();
    expect(res.statusCode).to.equal(502);
    const error = res.body as unknown as { code: string; message: string; details: Array<{ registration: string; status: number }> };
    expect(error.code).to.equal('WEBHOOK_REGISTRATION_FAILED');
    expect(error.message).to.include('"broken"');
    expect(error.details[0]).to.include({ registration: 'broken', status: 404 });
    expect(topicsSent()).to.deep.equal(['contacts', 'tickets']);
    expect(sandbox.subscriptions.size).to.equal(0);
    expect((await t.api.get('instances')).body).to.deep.equal([]);
  });

  it('a rollback deregistration that fails is queued and retried with its registration', async () => {
    await registerConnector(t, topicsConnector([{ name: 'contacts' }, { name: 'broken', register: 'createBrokenWebhook' }]));
    sandbox.provider.failNext(3, { status: 503, body: {} }, { path: '/webhooks/' });
    expect((await create()).statusCode).to.equal(502);
    expect(sandbox.subscriptions.size).to.equal(1);
    const [pending] = await t.gateway.db('webhook_deregistrations').select();
    expect(pending).to.include({ registration: 'contacts' });
    t.clock.advance(2 * 60_000);
    await t.gateway.webhooks.processor.tick();
    expect(sandbox.subscriptions.size).to.equal(0);
  });

  it('refuses a registration with deregister but no webhookIdPath: no id would ever be stored for it', async () => {
    const def = topicsConnector([{ name: 'contacts' }]);
    delete def.events.webhook.registrations[0].webhookIdPath;
    const res = await t.api.post('elements', { json: def });
    expect(res.statusCode).to.equal(400);
    const fields = (res.body as unknown as { details: Array<{ field: string; message: string }> }).details.map((d) => `${d.field}: ${d.message}`);
    expect(fields).to.deep.equal([
      '/events/webhook/registrations/0/webhookIdPath: is required with deregister: the id found there in the register answer is what deregister is given',
    ]);
  });

  it('refuses registrations mixed with the shorthand, duplicate names and unknown templates', async () => {
    const def = topicsConnector([{ name: 'contacts' }, { name: 'contacts', register: 'nope' }]);
    def.events.webhook.register = 'createWebhook';
    const res = await t.api.post('elements', { json: def });
    expect(res.statusCode).to.equal(400);
    const fields = (res.body as unknown as { details: Array<{ field: string; message: string }> }).details.map((d) => `${d.field}: ${d.message}`);
    expect(fields).to.include.members([
      '/events/webhook/registrations: cannot be combined with register, deregister or webhookIdPath: list every registration under registrations',
      '/events/webhook/registrations/1/name: "contacts" is defined twice',
      '/events/webhook/registrations/1/register: names request template "nope", which is not defined under requests',
    ]);
  });
});
