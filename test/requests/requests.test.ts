import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { createLogger } from '../../src/log.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';

// URL-unsafe characters: the redaction must also catch the secret's URL-encoded form.
const SECRET = 'sk-live/very+secret=42';

type Outcome = { status: number; headers: Record<string, string>; response: string; errorSource?: string; attempts?: number; code?: string; message?: string };
type LogRow = { template: string; method: string; url: string; status: number | null; errorSource: string | null; attempts: number; error: string | null };

/** A port nothing listens on (a server is opened, its port read, and closed). */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const DESK_CONNECTOR = {
  key: 'helpdesk-test',
  name: 'Test help desk',
  configuration: [{ key: 'base_url', required: true }, { key: 'api_key', required: true, secret: true }, { key: 'probe_host' }],
  baseUrl: '<%= iparam.base_url %>',
  auth: { type: 'bearer', token: '<%= iparam.api_key %>' },
  events: { supported: ['polling'], poller: { tickets: { url: '/tickets', idField: 'id' } } },
  requests: {
    getTicket: { schema: { method: 'GET', path: '/tickets/<%= context.id %>' }, options: { maxAttempts: 3, retryDelay: 200 } },
    createTicket: { schema: { method: 'POST', path: '/tickets', body: { subject: '<%= context.subject %>', requester: '<%= context.user.email %>' } } },
    slow: { schema: { method: 'GET', path: '/tickets/1' }, options: { timeout: 5000 } },
    traced: { schema: { method: 'GET', path: '/tickets/1', headers: { 'X-Trace': 'trace <%= context.trace %>' } } },
    whoami: {
      schema: { method: 'GET', path: '/me', query: { verbose: '<%= context.verbose %>' }, headers: { 'X-Access-Token': '<%= access_token %>' } },
      options: { isOAuth: true },
    },
    // The instance's configuration names the host: the network policy must still apply when connecting.
    probe: { schema: { method: 'GET', protocol: 'http', host: '<%= iparam.probe_host %>', path: '/tickets/1' } },
  },
};

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
    provider.route('GET', '/tickets/:id', ({ params, headers }) => ({
      status: 200,
      body: { id: Number(params.id), auth: headers.authorization === `Bearer ${SECRET}` },
    }));
    provider.route('POST', '/tickets', ({ json }) => ({ status: 201, body: { created: json } }));
    provider.route('GET', '/me', ({ headers, query }) => ({ status: 200, body: { token: headers['x-access-token'], query } }));
    const res = await t.api.post('elements', { json: DESK_CONNECTOR });
    expect(res.statusCode).to.equal(201);
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
  });

  async function instance(configuration: Record<string, unknown> = {}, on: TestGateway = t): Promise<number> {
    const res = await on.api.post('instances', {
      json: { element: { key: 'helpdesk-test' }, configuration: { base_url: provider.url, api_key: SECRET, ...configuration } },
    });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    return (res.body as unknown as { id: number }).id;
  }

  const requestLog = async (id: number) => (await t.api.get(`instances/${id}/requests/log`)).body as unknown as LogRow[];

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
    const list = (await t.api.get('elements/helpdesk-test/requests')).body as unknown as Array<{ name: string; method: string }>;
    expect(list.map((r) => `${r.method} ${r.name}`)).to.deep.equal(['GET getTicket', 'POST createTicket', 'GET slow', 'GET traced', 'GET whoami', 'GET probe']);
    expect(list[0]).to.deep.include({ path: '/tickets/<%= context.id %>', options: { maxAttempts: 3, retryDelay: 200 } });
    expect((await t.api.get('elements/nope/requests')).statusCode).to.equal(404);
  });

  it('an empty body is an empty context; an isOAuth template needs an instance with an OAuth token', async () => {
    const id = await instance();
    // No body at all: the template still renders (it needs no context).
    const empty = await t.api.post(`instances/${id}/requests/slow`);
    expect(empty.statusCode).to.equal(200);
    // The test help-desk connector authenticates with a static bearer key: its instances have no OAuth token.
    const missing = await t.api.post(`instances/${id}/requests/whoami`, { json: { context: { verbose: 'x' } } });
    expect(missing.statusCode).to.equal(400);
    expect(missing.body).to.deep.include({
      code: 'OAUTH_TOKEN_MISSING',
      message: `template "whoami" makes an OAuth request (isOAuth: true), but instance ${id} has no OAuth access token: authorize the instance first`,
    });
    expect(provider.requests.filter((r) => r.path === '/me')).to.have.length(0);
    const badContext = await t.api.post(`instances/${id}/requests/whoami`, { json: { context: [1] } });
    expect(badContext.statusCode).to.equal(400);
    expect((badContext.body as unknown as Outcome).message).to.match(/context must be a JSON object/);
  });

  it('retries 5xx up to maxAttempts and reports APP with attempts', async () => {
    const id = await instance();
    provider.failNext(2, { status: 503, body: { error: 'busy' } }, { path: '/tickets/7' });
    const ok = await t.api.post(`instances/${id}/requests/getTicket`, { json: { context: { id: 7 } } });
    expect(ok.statusCode).to.equal(200);
    expect(ok.body).to.deep.include({ status: 200, attempts: 3 });
    expect(sleeps).to.deep.equal([200, 200]);
    provider.failNext(3, { status: 500, body: { error: 'down' } }, { path: '/tickets/8' });
    const failed = await t.api.post(`instances/${id}/requests/getTicket`, { json: { context: { id: 8 } } });
    expect(failed.statusCode).to.equal(502);
    expect(failed.body).to.deep.include({ code: 'PROVIDER_ERROR', status: 500, errorSource: 'APP', attempts: 3, response: '{"error":"down"}' });
    // A 4xx other than 429 is the provider's final word: no retry.
    provider.failNext(1, { status: 404, body: { error: 'no such ticket' } }, { path: '/tickets/9' });
    const notFound = await t.api.post(`instances/${id}/requests/getTicket`, { json: { context: { id: 9 } } });
    expect(notFound.statusCode).to.equal(502);
    expect(notFound.body).to.deep.include({ status: 404, errorSource: 'APP', attempts: 1 });
    const log = await requestLog(id);
    expect(log.map((r) => [r.status, r.errorSource, r.attempts])).to.deep.equal([
      [404, 'APP', 1],
      [500, 'APP', 3],
      [200, null, 3],
    ]);
  });

  it('reports a refused connection and an SSRF-blocked address as PLATFORM with 502', async () => {
    const port = await closedPort();
    const refusedId = await instance({ base_url: `http://127.0.0.1:${port}` });
    const refused = await t.api.post(`instances/${refusedId}/requests/getTicket`, { json: { context: { id: 1 } } });
    expect(refused.statusCode).to.equal(502);
    expect(refused.body).to.deep.include({
      code: 'PLATFORM_ERROR',
      errorSource: 'PLATFORM',
      attempts: 3,
      status: 502,
      response: 'Error in establishing the connection.',
    });
    expect(sleeps).to.deep.equal([200, 200]);

    const strict = await startGateway({ config: { network: { allowLoopback: false } }, clock: t.clock });
    try {
      expect((await strict.api.post('elements', { json: DESK_CONNECTOR })).statusCode).to.equal(201);
      provider.clearRequests();
      for (const host of ['localhost', 'metadata.google.internal']) {
        const id = await instance({ base_url: 'http://provider.example', probe_host: host }, strict);
        const blocked = await strict.api.post(`instances/${id}/requests/probe`, { json: {} });
        expect(blocked.statusCode, host).to.equal(502);
        expect(blocked.body, host).to.deep.include({ code: 'PLATFORM_ERROR', errorSource: 'PLATFORM', status: 502 });
        expect((blocked.body as unknown as Outcome).response, host).to.match(/^the request was blocked: /);
        expect((blocked.body as unknown as Outcome).attempts, host).to.be.at.most(1);
        expect((blocked.body as unknown as Outcome).message, host).to.match(/^the request was blocked: .*(not allowed|never allowed)/);
      }
      // An address is not a host name: refused with the configuration, before any call.
      for (const host of ['127.0.0.1', '[::ffff:127.0.0.1]', '169.254.169.254']) {
        const refused = await strict.api.post('instances', {
          json: { element: { key: 'helpdesk-test' }, configuration: { base_url: 'http://provider.example', api_key: SECRET, probe_host: host } },
        });
        expect(refused.statusCode, host).to.equal(400);
        expect((refused.body as unknown as { details: Array<{ field: string }> }).details[0].field, host).to.equal('configuration.probe_host');
      }
      expect(provider.requests).to.have.length(0);
    } finally {
      await strict.close();
    }
  });

  it('reports a timeout as PLATFORM with 504, and an unknown template or missing context as 404/400', async () => {
    const id = await instance();
    provider.delayNext(1, 5500, { path: '/tickets/1' });
    const slow = await t.api.post(`instances/${id}/requests/slow`, { json: {} });
    expect(slow.statusCode).to.equal(504);
    expect(slow.body).to.deep.include({ errorSource: 'PLATFORM', attempts: 1, status: 504, response: 'Timeout error while processing the request.' });
    expect((await t.api.post(`instances/${id}/requests/nope`, { json: {} })).statusCode).to.equal(404);
    const missing = await t.api.post(`instances/${id}/requests/getTicket`, { json: { context: {} } });
    expect(missing.statusCode).to.equal(400);
    expect(JSON.stringify(missing.body)).to.include('missing context value \\"id\\"');
    expect((await t.api.post('instances/999/requests/getTicket', { json: {} })).statusCode).to.equal(404);
  }).timeout(15_000);

  it('refuses a header value with CR, LF or another control character with a 400 naming the header, before any call', async () => {
    const id = await instance();
    provider.clearRequests();
    for (const trace of ['a\r\nX-Injected: 1', 'a\nb', 'a\rb', 'nul\u0000', 'del\u007f', 'wide \u2028']) {
      const res = await t.api.post(`instances/${id}/requests/traced`, { json: { context: { trace } } });
      expect(res.statusCode, JSON.stringify(trace)).to.equal(400);
      expect(res.body, JSON.stringify(trace)).to.deep.include({
        code: 'VALIDATION_ERROR',
        message: 'header "X-Trace" may not contain CR, LF or other control characters, nor characters beyond Latin-1',
        details: [{ field: 'schema.headers.X-Trace' }],
      });
    }
    expect(provider.requests).to.have.length(0);
    const ok = await t.api.post(`instances/${id}/requests/traced`, { json: { context: { trace: 'abc\tdef' } } });
    expect(ok.statusCode, JSON.stringify(ok.body)).to.equal(200);
    expect(provider.requests[0].headers['x-trace']).to.equal('trace abc\tdef');
  });

  it('rate limits per instance: the 51st call in a minute gets 429 with Retry-After', async () => {
    const id = await instance();
    for (let i = 0; i < 50; i++) expect((await t.api.post(`instances/${id}/requests/getTicket`, { json: { context: { id: i } } })).statusCode).to.equal(200);
    const limited = await t.api.post(`instances/${id}/requests/getTicket`, { json: { context: { id: 51 } } });
    expect(limited.statusCode).to.equal(429);
    expect(limited.body).to.deep.include({ code: 'RATE_LIMITED', status: 429, errorSource: 'PLATFORM', attempts: 0 });
    expect((limited.body as unknown as Outcome).response).to.match(/^this instance may invoke at most 50 request templates a minute/);
    expect(Number(limited.headers['retry-after'])).to.be.within(1, 60);
    // Per instance: another instance is not limited.
    expect((await t.api.post(`instances/${await instance()}/requests/getTicket`, { json: { context: { id: 1 } } })).statusCode).to.equal(200);
    t.clock.advance(60_000);
    expect((await t.api.post(`instances/${id}/requests/getTicket`, { json: { context: { id: 52 } } })).statusCode).to.equal(200);
    // Refused calls are logged too; the log pages newest first.
    const page = await t.api.get(`instances/${id}/requests/log?pageSize=2`);
    expect((page.body as unknown as LogRow[]).map((r) => r.status)).to.deep.equal([200, 429]);
    const next = await t.api.get(`instances/${id}/requests/log?pageSize=2&nextPage=${page.headers['elements-next-page-token']}`);
    expect((next.body as unknown as LogRow[]).map((r) => r.status)).to.deep.equal([200, 200]);
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
    expect(JSON.stringify(log)).not.to.include(encodeURIComponent(SECRET));
    expect(lines.join('')).not.to.include(encodeURIComponent(SECRET));
    expect(log[1].url).to.include('/tickets/********');
    expect(provider.requests.some((r) => r.path === `/tickets/${encodeURIComponent(SECRET)}`)).to.equal(true);
    // Secrets are refused in URLs when the connector is registered.
    const bad = await t.api.post('elements', {
      json: {
        key: 'leaky',
        name: 'L',
        configuration: [{ key: 'k', secret: true }],
        baseUrl: 'http://x',
        requests: { r: { schema: { path: '/?key=<%= iparam.k %>' } } },
      },
    });
    expect(bad.statusCode).to.equal(400);
    expect(JSON.stringify(bad.body)).to.match(/connector \\"leaky\\", template \\"r\\", field \\"schema.path\\"/);
  });
});
