import { Writable } from 'node:stream';
import { expect } from 'chai';
import { createLogger } from '../../src/log.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../providers/provider-server.js';

const SECRET = 'sk-live-very-secret-42';

describe('request templates API', () => {
  let t: TestGateway;
  let provider: EmulatedProvider;
  const lines: string[] = [];
  const sleeps: number[] = [];

  beforeEach(async () => {
    lines.length = 0;
    sleeps.length = 0;
    const log = createLogger({ level: 'info', destination: new Writable({ write: (chunk, _e, cb) => void (lines.push(String(chunk)), cb()) }) });
    t = await startGateway({ options: { log, sleep: async (ms) => void sleeps.push(ms) } });
    provider = await EmulatedProvider.start();
    provider.route('GET', '/tickets/:id', ({ params, headers }) => ({ status: 200, body: { id: Number(params.id), auth: headers.authorization === `Bearer ${SECRET}` } }));
    provider.route('POST', '/tickets', ({ json }) => ({ status: 201, body: { created: json } }));
    const res = await t.api.post('elements', {
      json: {
        key: 'desk', name: 'Desk',
        configuration: [{ key: 'base_url', required: true }, { key: 'api_key', required: true, secret: true }],
        baseUrl: '<%= iparam.base_url %>',
        auth: { type: 'bearer', token: '<%= iparam.api_key %>' },
        events: { supported: ['polling'], poller: { tickets: { url: '/tickets', idField: 'id' } } },
        requests: {
          getTicket: { schema: { method: 'GET', path: '/tickets/<%= context.id %>' }, options: { maxAttempts: 3, retryDelay: 200 } },
          createTicket: { schema: { method: 'POST', path: '/tickets', body: { subject: '<%= context.subject %>', requester: '<%= context.user.email %>' } } },
          slow: { schema: { method: 'GET', path: '/tickets/1' }, options: { timeout: 5000 } },
        },
      },
    });
    expect(res.statusCode).to.equal(201);
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
  });

  async function instance(): Promise<number> {
    const res = await t.api.post('instances', { json: { element: { key: 'desk' }, configuration: { base_url: provider.url, api_key: SECRET } } });
    return (res.body as unknown as { id: number }).id;
  }

  it('invokes a template: substitutions, auth, JSON body, {status, headers, response}', async () => {
    const id = await instance();
    const get = await t.api.post(`instances/${id}/requests/getTicket`, { json: { context: { id: 42 } } });
    expect(get.statusCode).to.equal(200);
    const body = get.body as unknown as { status: number; headers: Record<string, string>; response: string };
    expect(body.status).to.equal(200);
    expect(JSON.parse(body.response)).to.deep.equal({ id: 42, auth: true });
    expect(body.headers['content-type']).to.equal('application/json');
    const post = await t.api.post(`instances/${id}/requests/createTicket`, { json: { context: { subject: 'Hi', user: { email: 'a@b.c' } } } });
    expect(JSON.parse((post.body as unknown as { response: string }).response)).to.deep.equal({ created: { subject: 'Hi', requester: 'a@b.c' } });
    const list = (await t.api.get('elements/desk/requests')).body as unknown as Array<{ name: string; method: string }>;
    expect(list.map((r) => `${r.method} ${r.name}`)).to.deep.equal(['GET getTicket', 'POST createTicket', 'GET slow']);
  });

  it('retries 5xx up to maxAttempts and reports APP with attempts', async () => {
    const id = await instance();
    provider.failNext(2, { status: 503, body: { error: 'busy' } }, { path: '/tickets/7' });
    const ok = await t.api.post(`instances/${id}/requests/getTicket`, { json: { context: { id: 7 } } });
    expect(ok.statusCode).to.equal(200);
    expect(sleeps).to.deep.equal([200, 200]);
    provider.failNext(3, { status: 500, body: { error: 'down' } }, { path: '/tickets/8' });
    const failed = await t.api.post(`instances/${id}/requests/getTicket`, { json: { context: { id: 8 } } });
    expect(failed.statusCode).to.equal(502);
    expect(failed.body).to.deep.include({ status: 500, errorSource: 'APP', attempts: 3, response: '{"error":"down"}' });
  });

  it('reports a timeout as PLATFORM with 504, and an unknown template or missing context as 404/400', async () => {
    const id = await instance();
    provider.delayNext(1, 5500, { path: '/tickets/1' });
    const slow = await t.api.post(`instances/${id}/requests/slow`, { json: {} });
    expect(slow.statusCode).to.equal(504);
    expect(slow.body).to.deep.include({ errorSource: 'PLATFORM', attempts: 1 });
    expect((await t.api.post(`instances/${id}/requests/nope`, { json: {} })).statusCode).to.equal(404);
    const missing = await t.api.post(`instances/${id}/requests/getTicket`, { json: { context: {} } });
    expect(missing.statusCode).to.equal(400);
    expect(JSON.stringify(missing.body)).to.include('missing context value \\"id\\"');
    expect((await t.api.post('instances/999/requests/getTicket', { json: {} })).statusCode).to.equal(404);
  }).timeout(15_000);

  it('rate limits per instance: the 51st call in a minute gets 429 with Retry-After', async () => {
    const id = await instance();
    for (let i = 0; i < 50; i++) expect((await t.api.post(`instances/${id}/requests/getTicket`, { json: { context: { id: i } } })).statusCode).to.equal(200);
    const limited = await t.api.post(`instances/${id}/requests/getTicket`, { json: { context: { id: 51 } } });
    expect(limited.statusCode).to.equal(429);
    expect(limited.body).to.deep.include({ errorSource: 'PLATFORM' });
    expect(Number(limited.headers['retry-after'])).to.be.within(1, 60);
    t.clock.advance(60_000);
    expect((await t.api.post(`instances/${id}/requests/getTicket`, { json: { context: { id: 52 } } })).statusCode).to.equal(200);
  });

  it('never puts a secret in a URL, a log line or the request log', async () => {
    const id = await instance();
    await t.api.post(`instances/${id}/requests/getTicket`, { json: { context: { id: SECRET } } });
    provider.failNext(3, { status: 500, body: { echo: SECRET } }, { path: '/tickets/9' });
    await t.api.post(`instances/${id}/requests/getTicket`, { json: { context: { id: 9 } } });
    expect(lines.join('')).to.include('request template');
    expect(lines.join('')).not.to.include(SECRET);
    const log = (await t.api.get(`instances/${id}/requests/log`)).body as unknown as Array<{ url: string }>;
    expect(log).to.have.length(2);
    expect(JSON.stringify(log)).not.to.include(SECRET);
    expect(log[1].url).to.include('/tickets/********');
    // Secrets are refused in URLs when the connector is registered.
    const bad = await t.api.post('elements', { json: { key: 'leaky', name: 'L', configuration: [{ key: 'k', secret: true }], baseUrl: 'http://x', requests: { r: { schema: { path: '/?key=<%= iparam.k %>' } } } } });
    expect(bad.statusCode).to.equal(400);
    expect(JSON.stringify(bad.body)).to.match(/connector \\"leaky\\", template \\"r\\", field \\"schema.path\\"/);
  });
});
