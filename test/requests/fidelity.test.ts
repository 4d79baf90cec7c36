import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';

/** Request templates held to Freshworks' request method: invocation bodies and load-time rules. */
const connector = (requests: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  key: 'fw',
  name: 'FW',
  configuration: [
    { key: 'base_url', required: true },
    { key: 'domain' },
    { key: 'api_key', required: true, secret: true },
    { key: 'webhook_secret', secret: true },
  ],
  baseUrl: '<%= iparam.base_url %>',
  events: { supported: ['polling'], poller: { notes: { url: '/notes', idField: 'id' } } },
  requests,
  ...extra,
});

type Problem = { field: string; message: string };

describe('request templates to the letter of Freshworks', () => {
  let t: TestGateway;
  let provider: EmulatedProvider;

  beforeEach(async () => {
    t = await startGateway();
    provider = await EmulatedProvider.start();
    provider.route('POST', '/notes', ({ body, headers }) => ({ status: 201, body: { received: body, type: headers['content-type'] ?? null } }));
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
  });

  async function refusal(requests: Record<string, unknown>): Promise<{ message: string; details: Problem[] }> {
    const res = await t.api.post('elements', { json: connector(requests) });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(400);
    return res.body as unknown as { message: string; details: Problem[] };
  }

  it('sends the body given at invocation: a string as is, an object as JSON; schema.body stays the default', async () => {
    const templates = {
      addNote: { schema: { method: 'POST', path: '/notes', headers: { 'Content-Type': 'text/plain' }, body: { note: 'default' } } },
      getNote: { schema: { path: '/notes/1' } },
    };
    expect((await t.api.post('elements', { json: connector(templates) })).statusCode).to.equal(201);
    const created = await t.api.post('instances', { json: { element: { key: 'fw' }, configuration: { base_url: provider.url, api_key: 'k' } } });
    expect(created.statusCode, JSON.stringify(created.body)).to.equal(201);
    const id = (created.body as unknown as { id: number }).id;
    const call = async (json: Record<string, unknown>) => {
      const res = await t.api.post(`instances/${id}/requests/addNote`, { json });
      expect(res.statusCode, JSON.stringify(res.body)).to.equal(200);
      return JSON.parse((res.body as unknown as { response: string }).response);
    };

    expect(await call({ context: {}, body: 'plain words, sent as is' })).to.deep.equal({ received: 'plain words, sent as is', type: 'text/plain' });
    expect(await call({ body: { note: 'from the caller' } })).to.deep.equal({ received: '{"note":"from the caller"}', type: 'text/plain' });
    expect(await call({ context: {} })).to.deep.equal({ received: '{"note":"default"}', type: 'text/plain' });

    const onGet = await t.api.post(`instances/${id}/requests/getNote`, { json: { body: 'x' } });
    expect(onGet.statusCode).to.equal(400);
    expect(onGet.body).to.deep.include({ message: 'template "getNote" is a GET request: it sends no body' });
    const nullBody = await t.api.post(`instances/${id}/requests/addNote`, { json: { body: null } });
    expect(nullBody.statusCode).to.equal(400);
  });

  it('refuses <%= access_token %> outside headers, and without isOAuth', async () => {
    const inQuery = await refusal({ tok: { schema: { path: '/x', query: { tok: '<%= access_token %>' } }, options: { isOAuth: true } } });
    expect(inQuery.message).to.include('connector "fw", template "tok", field "schema.query.tok": <%= access_token %> may only be used in headers');
    const inPath = await refusal({
      tok: { schema: { path: '/x/<%= access_token %>', headers: { Authorization: 'Bearer <%= access_token %>' } }, options: { isOAuth: true } },
    });
    expect(inPath.details[0]).to.deep.include({ field: '/requests/tok/schema/path' });
    const inHost = await refusal({ tok: { schema: { host: '<%= access_token %>.example.com' }, options: { isOAuth: true } } });
    expect(inHost.details[0]).to.deep.include({ field: '/requests/tok/schema/host' });
    const notOAuth = await refusal({ tok: { schema: { path: '/x', headers: { Authorization: 'Bearer <%= access_token %>' } } } });
    expect(notOAuth.details[0].message).to.equal(
      'connector "fw", template "tok", field "schema.headers.Authorization": <%= access_token %> is only available to OAuth requests: set "options": {"isOAuth": true}',
    );
    const tokenless = await refusal({ tok: { schema: { path: '/x' }, options: { isOAuth: true } } });
    expect(tokenless.details[0]).to.deep.include({ field: '/requests/tok/options/isOAuth' });
    expect(tokenless.details[0].message).to.match(
      /options.isOAuth": an OAuth request sends the token: add "Authorization": "Bearer <%= access_token %>" to schema.headers$/,
    );
  });

  it('refuses a secret iparam in a body unless the template lists it in secretsInBody', async () => {
    const leaky = await refusal({ hook: { schema: { method: 'POST', path: '/hooks', body: { key: '<%= encode(iparam.api_key) %>' } } } });
    expect(leaky.message).to.include('connector "fw", template "hook", field "schema.body.key": secret iparam "api_key" may not be substituted into the body');
    const wrongList = await refusal({
      hook: { schema: { method: 'POST', path: '/hooks', body: { secret: '<%= iparam.webhook_secret %>' } }, secretsInBody: ['domain'] },
    });
    expect(wrongList.details.map((d) => d.field)).to.include('/requests/hook/secretsInBody/0');
    const allowed = connector({
      hook: { schema: { method: 'POST', path: '/hooks', body: { secret: '<%= iparam.webhook_secret %>' } }, secretsInBody: ['webhook_secret'] },
    });
    expect((await t.api.post('elements', { json: allowed })).statusCode).to.equal(201);
  });

  it('refuses an iparam the connector does not declare, in templates and elsewhere', async () => {
    const typo = await refusal({ get: { schema: { path: '/<%= iparam.nosuch %>/end' } } });
    expect(typo.message).to.equal(
      'connector "fw" from request body is invalid: /requests/get/schema/path: connector "fw", template "get", field "schema.path": iparam "nosuch" is not a configuration field of this connector; declare it under "configuration" or fix the name',
    );
    const inBase = await t.api.post('elements', { json: connector({}, { baseUrl: 'https://<%= iparam.domian %>.example.com' }) });
    expect(inBase.statusCode).to.equal(400);
    expect((inBase.body as unknown as { details: Problem[] }).details[0]).to.deep.include({ field: '/baseUrl' });
    // Declared fields (dotted values too) and the gateway's own keys are fine; handed-over tokens are not iparams.
    const ok = connector({
      get: { schema: { path: '/<%= iparam.domain %>/<%= iparam.event.vendor.type %>', headers: { 'X-Client': '<%= iparam.oauth.api.key %>' } } },
    });
    expect((await t.api.post('elements', { json: ok })).statusCode).to.equal(201);
    const token = await refusal({ get: { schema: { path: '/x', headers: { Authorization: 'Bearer <%= iparam.oauth.user.token %>' } } } });
    expect(token.details[0].message).to.match(/iparam "oauth.user.token" is not a configuration field of this connector/);
  });

  it('takes protocol in any case, refuses a host with scheme, path or trailing slash, and an out-of-range timeout', async () => {
    for (const host of ['https://api.example.com', 'api.example.com/v2', 'api.example.com/', '<%= iparam.domain %>.example.com/']) {
      const bad = await refusal({ get: { schema: { host, path: '/x' } } });
      expect(bad.details[0], host).to.deep.include({ field: '/requests/get/schema/host' });
      expect(bad.details[0].message, host).to.match(
        /must be a host name only, e.g. "api.example.com": no scheme \(set "protocol"\), path \(use "path"\) or trailing slash$/,
      );
    }
    const timeout = await refusal({ get: { schema: { path: '/x' }, options: { timeout: 20000 } } });
    expect(timeout.details[0]).to.deep.equal({
      field: '/requests/get/options/timeout',
      message: 'connector "fw", template "get", field "options.timeout": must be 5000 to 10000 milliseconds',
    });

    const port = new URL(provider.url).port;
    const upper = connector({
      addNote: {
        schema: {
          method: 'POST',
          protocol: 'HTTP',
          host: `<%= iparam.domain %>:${port}`,
          path: '/notes',
          headers: { 'Content-Type': 'text/plain' },
          body: 'hi',
        },
      },
    });
    expect((await t.api.post('elements', { json: upper })).statusCode).to.equal(201);
    const created = await t.api.post('instances', {
      json: { element: { key: 'fw' }, configuration: { base_url: provider.url, domain: 'localhost', api_key: 'k' } },
    });
    const res = await t.api.post(`instances/${(created.body as unknown as { id: number }).id}/requests/addNote`, { json: {} });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(200);
    expect(JSON.parse((res.body as unknown as { response: string }).response)).to.deep.include({ received: 'hi' });
  });

  it('takes the host from non-secret iparams only, refuses an IP address, and keeps each value to host-name labels', async () => {
    // The caller choosing the host would receive the credentials in the headers.
    const fromContext = await refusal({
      get: { schema: { protocol: 'http', host: '<%= context.h %>', path: '/x', headers: { Authorization: 'Bearer <%= iparam.api_key %>' } } },
    });
    expect(fromContext.details[0]).to.deep.equal({
      field: '/requests/get/schema/host',
      message:
        'connector "fw", template "get", field "schema.host": may not use <%= context.x %>: the caller would choose where the request and its credentials go; use a non-secret <%= iparam.x %>',
    });
    // A key that names a secret is one, declared `secret` or not (it is stored and redacted as one).
    const apikey = connector({ get: { schema: { host: '<%= iparam.apikey %>.example.com', path: '/x' } } });
    (apikey.configuration as Array<Record<string, unknown>>).push({ key: 'apikey' });
    const secretInHost = await t.api.post('elements', { json: apikey });
    expect(secretInHost.statusCode).to.equal(400);
    expect((secretInHost.body as unknown as { details: Problem[] }).details[0].message).to.match(
      /field "schema.host": secret iparam "apikey" may not be substituted into a URL/,
    );
    const encoded = await refusal({ get: { schema: { host: '<%= encode(iparam.domain) %>.example.com', path: '/x' } } });
    expect(encoded.details[0].message).to.match(/field "schema.host": may not use encode/);
    for (const host of ['127.0.0.1', '127.0.0.1:8080', '2130706433', '0x7f.1', '[::1]', '<%= iparam.domain %>.1']) {
      const ip = await refusal({ get: { schema: { host, path: '/x' } } });
      expect(ip.details[0], host).to.deep.include({ field: '/requests/get/schema/host' });
      expect(ip.details[0].message, host).to.match(/must be a (domain name \(FQDN\), not an IP address|host name only)/);
    }

    const port = new URL(provider.url).port;
    const ok = connector({ addNote: { schema: { method: 'POST', protocol: 'http', host: `<%= iparam.domain %>:${port}`, path: '/notes', body: 'hi' } } });
    expect((await t.api.post('elements', { json: ok })).statusCode).to.equal(201);
    const create = (domain?: string) =>
      t.api.post('instances', { json: { element: { key: 'fw' }, configuration: { base_url: provider.url, api_key: 'k', ...(domain ? { domain } : {}) } } });
    // A value cannot add a port, path or query, nor make the host an IP address.
    for (const domain of ['localhost:1234/echo?x=', 'evil.example/x#', 'user@localhost', '127.0.0.1', '2130706433']) {
      const bad = await create(domain);
      expect(bad.statusCode, domain).to.equal(400);
      expect((bad.body as unknown as { details: Problem[] }).details[0].field, domain).to.equal('configuration.domain');
      expect((bad.body as unknown as { details: Problem[] }).details[0].message, domain).to.match(/request template "addNote"/);
    }
    // Left empty (an optional field), the invocation names it and sends nothing.
    const unset = await create();
    expect(unset.statusCode, JSON.stringify(unset.body)).to.equal(201);
    const missing = await t.api.post(`instances/${(unset.body as unknown as { id: number }).id}/requests/addNote`, { json: {} });
    expect(missing.statusCode).to.equal(400);
    expect(missing.body).to.deep.include({
      message: "configuration.domain is not set: it is part of the request's host",
      details: [{ field: 'configuration.domain' }],
    });
    expect(provider.requests).to.have.length(0);
  });
});
