import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { SandboxProvider } from '../../sandbox/sandbox.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { pollNow } from '../poller/helpers.js';

/**
 * POST /instances/:id/check against the sandbox emulator: every line ok on a healthy instance, a
 * refused key, records the poller could not read, a registration deleted at the provider — and in
 * every case nothing written: no events, no notifications, the poll state (watermarks) unchanged.
 */
type Line = { name: string; status: string; detail: string; details?: Record<string, unknown> };
type Report = { instanceId: number; checkedAt: string; ok: boolean; status: string; checks: Line[] };

const KEY = 'sandbox-key-0123456789';

async function check(t: TestGateway, id: number): Promise<Report> {
  const res = await t.api.post(`instances/${id}/check`);
  expect(res.statusCode, JSON.stringify(res.body)).to.equal(200);
  return res.body as unknown as Report;
}

const line = (r: Report, name: string): Line => {
  const found = r.checks.find((c) => c.name === name);
  if (!found) throw new Error(`no "${name}" line in ${JSON.stringify(r.checks)}`);
  return found;
};

/** What the public API shows of an instance's written state: events, and status (poll state, notifications). */
async function writtenState(t: TestGateway, id: number) {
  const events = (await t.api.get(`instances/${id}/events`)).body as unknown as unknown[];
  const status = (await t.api.get(`instances/${id}/status`)).body;
  return { events, status };
}

describe('instance check (POST /instances/:id/check)', () => {
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

  async function create(configuration: Record<string, unknown> = {}): Promise<number> {
    const res = await t.api.post('instances', {
      json: {
        element: { key: 'sandbox' },
        name: 'checked',
        configuration: {
          base_url: sandbox.url,
          api_key: KEY,
          'event.vendor.type': 'polling',
          'event.poller.refresh_interval': '5',
          'event.notification.callback.url': 'http://127.0.0.1:9/hook',
          ...configuration,
        },
      },
    });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    return (res.body as unknown as { id: number }).id;
  }

  it('a healthy polling instance: every line ok, one first page per object, and nothing written', async () => {
    const id = await create();
    // Records changed after the instance was created: a poll would raise events for them; the check must not.
    t.clock.advance(60_000);
    sandbox.provider.now = () => t.clock.now();
    sandbox.provider.collection('contacts').update('1', { name: 'Ada King' });
    const before = await writtenState(t, id);
    sandbox.provider.clearRequests();

    const report = await check(t, id);
    expect(report).to.include({ instanceId: id, ok: true, status: 'ok' });
    expect(report.checks.map((c) => [c.name, c.status])).to.deep.equal([
      ['credentials', 'ok'],
      ['scopes', 'ok'],
      ['object:contacts', 'ok'],
      ['object:tickets', 'ok'],
      ['rateLimit', 'ok'],
    ]);
    expect(line(report, 'object:contacts').details).to.deep.include({ records: 3, fields: ['id', 'updated_at', 'created_at'] });
    expect(line(report, 'credentials').detail).to.match(/accepted: HTTP 200 to GET \/contacts/);
    // One request per object type: the first page only, with the instance's key.
    expect(sandbox.provider.requests.map((r) => [r.method, r.path, r.headers['x-api-key']])).to.deep.equal([
      ['GET', '/contacts', KEY],
      ['GET', '/tickets', KEY],
    ]);

    expect(await writtenState(t, id)).to.deep.equal(before);
    expect(before.events).to.have.length(0);
    // The change is still news to the poller: the check moved no watermark and stored no snapshot.
    expect((await pollNow(t, id)).contacts).to.include({ fetched: 1, updated: 1 });
  });

  it('a key the provider refuses: credentials failed with its answer, redacted; nothing else is sent', async () => {
    const id = await create();
    sandbox.provider.requireHeader = { name: 'X-Api-Key', value: 'rotated-key' };
    sandbox.provider.unauthorized = { status: 401, body: { error: `invalid api key ${KEY}` } };
    sandbox.provider.clearRequests();

    const report = await check(t, id);
    expect(report).to.include({ ok: false, status: 'failed' });
    const credentials = line(report, 'credentials');
    expect(credentials.status).to.equal('failed');
    expect(credentials.detail).to.include('HTTP 401').and.include('invalid api key ********');
    expect(JSON.stringify(report)).not.to.include(KEY);
    // The object whose request was refused fails with it; the next is not sent at all.
    expect(line(report, 'object:contacts')).to.include({ status: 'failed' });
    expect(line(report, 'object:tickets')).to.include({ status: 'warning' });
    expect(line(report, 'object:tickets').detail).to.match(/not checked: the provider refused the credentials/);
    expect(sandbox.provider.requests).to.have.length(1);
  });

  it('records without the id field or with a date not in the declared format: the object line fails naming the field', async () => {
    const id = await create();
    const at = '2026-11-24T10:00:00.000Z';
    sandbox.provider.failNext(
      1,
      {
        status: 200,
        body: [
          { id: 1, name: 'fine', updated_at: at, created_at: at },
          { name: 'no id', updated_at: at, created_at: at },
          { id: 3, name: 'bad date', updated_at: 'last tuesday', created_at: at },
        ],
      },
      { path: '/contacts' },
    );
    const before = await writtenState(t, id);

    const report = await check(t, id);
    expect(report.status).to.equal('failed');
    const contacts = line(report, 'object:contacts');
    expect(contacts.status).to.equal('failed');
    expect(contacts.detail).to.include('record 2: the id field "id" is missing');
    expect(contacts.detail).to.include(`record 3: the date field "updated_at" holds "last tuesday", not a date in the format "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"`);
    const problems = contacts.details?.problems as Array<{ field: string }> | undefined;
    expect(problems?.map((p) => p.field)).to.deep.equal(['id', 'updated_at']);
    expect(line(report, 'object:tickets').status).to.equal('ok');
    expect(line(report, 'credentials').status).to.equal('ok');
    expect(await writtenState(t, id)).to.deep.equal(before);
  });

  it('webhook mode: the registration is looked up at the provider; deleted there, the webhook line fails', async () => {
    const id = await create({ 'event.vendor.type': 'webhook', webhook_secret: 'whsec-sandbox-0123' });
    expect(sandbox.subscriptions.size).to.equal(1);
    const [webhookId] = sandbox.subscriptions.keys();

    const healthy = await check(t, id);
    expect(healthy.status, JSON.stringify(healthy.checks)).to.equal('ok');
    expect(line(healthy, 'webhook')).to.deep.include({ status: 'ok', detail: `registration ${webhookId}: present at the provider` });

    sandbox.subscriptions.clear();
    const before = await writtenState(t, id);
    const report = await check(t, id);
    expect(report).to.include({ ok: false, status: 'failed' });
    expect(line(report, 'webhook')).to.deep.include({ status: 'failed', detail: `registration ${webhookId}: gone: the provider's listing no longer holds it` });
    // The check changes nothing: no registration is made again, nothing is written.
    expect(sandbox.subscriptions.size).to.equal(0);
    expect(await writtenState(t, id)).to.deep.equal(before);
  });

  it('an instance whose secrets no key decrypts: a failed credentials line, not a 500, and nothing sent', async () => {
    const id = await create();
    const row = await t.gateway.db('instances').where({ id }).first();
    const foreign = JSON.stringify({ $enc: new SecretCipher('another-secret-key-0123456789abcdef0123').encrypt('lost') });
    await t.gateway
      .db('instances')
      .where({ id })
      .update({ configuration: row.configuration.replace(/\{"\$enc":"[^"]+"\}/, foreign) });
    sandbox.provider.clearRequests();

    const report = await check(t, id);
    expect(report.checks).to.have.length(1);
    expect(line(report, 'credentials')).to.include({ status: 'failed' });
    expect(line(report, 'credentials').detail).to.match(/api_key cannot be decrypted/);
    expect(sandbox.provider.requests).to.have.length(0);
  });

  it('an unknown instance is a 404, a malformed id a 400', async () => {
    expect((await t.api.post('instances/4242/check')).statusCode).to.equal(404);
    expect((await t.api.post('instances/abc/check')).statusCode).to.equal(400);
  });
});
