import { expect } from 'chai';
import got from 'got';
import { API_TOKEN, startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { createInstance, providerConnector, registerConnector } from '../poller/helpers.js';

const SECRET = 'sk-test-secret-123';

describe('instances API: shape, secrets and bad input', () => {
  let t: TestGateway;
  let provider: EmulatedProvider;

  beforeEach(async () => {
    t = await startGateway({ config: { server: { maxBodyBytes: 4096 } } });
    provider = await EmulatedProvider.start();
    await registerConnector(t, providerConnector('crm'));
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
  });

  it('accepts Cloud Elements instance JSON as is, with a JSON-string poller configuration and "true" strings', async () => {
    const res = await t.api.post('instances', {
      json: {
        element: { key: 'crm' },
        name: 'Acme',
        tags: ['acme'],
        configuration: {
          base_url: provider.url,
          api_key: SECRET,
          'event.notification.enabled': 'true',
          'event.notification.callback.url': 'http://127.0.0.1:9/callback',
          'event.notification.signature.key': 'sig-key-456',
          'event.vendor.type': 'polling',
          'event.poller.refresh_interval': '15',
          'event.poller.configuration': JSON.stringify({ contacts: { url: '/contacts', idField: 'id' } }),
        },
      },
    });
    expect(res.statusCode).to.equal(201);
    const body = res.body as unknown as Record<string, any>;
    expect(body).to.include({ name: 'Acme', vendorType: 'polling', eventsEnabled: true });
    expect(body.element).to.deep.equal({ key: 'crm' });
    expect(body.tags).to.deep.equal(['acme']);
    expect(body.configuration.api_key).to.equal('********');
    expect(body.configuration['event.notification.signature.key']).to.equal('********');
    expect(body.createdDate).to.match(/^2026-11-24T10:00:00/);
  });

  it('never shows a secret in an answer and stores it encrypted', async () => {
    const { id } = await createInstance(t, 'crm', provider.url, { 'event.notification.callback.password': 'cb-pass-789' });
    const answers = [
      await t.api.get(`instances/${id}`),
      await t.api.get('instances'),
      await t.api.patch(`instances/${id}`, { json: { name: 'renamed', configuration: { api_key: '********' } } }),
      await t.api.get(`instances/${id}/status`),
      await t.api.get(`instances/${id}/events`),
    ];
    for (const a of answers) {
      expect(a.statusCode).to.equal(200);
      expect(JSON.stringify(a.body)).not.to.include(SECRET).and.not.include('cb-pass-789');
    }
    const row = await t.gateway.db('instances').where({ id }).first();
    expect(row.configuration).not.to.include(SECRET);
    expect(row.configuration).to.match(/\{"\$enc":"enc:v2:/);
    // "********" sent back kept the stored secret: the provider still gets the real one.
    provider.clearRequests();
    await t.api.post(`instances/${id}/events/poll`);
    expect(provider.requests[0].headers.authorization).to.equal(`Bearer ${SECRET}`);
  });

  it('answers every bad input with a 4xx JSON error and changes nothing', async () => {
    const raw = got.extend({
      prefixUrl: `${t.url}/elements/api-v2`,
      throwHttpErrors: false,
      retry: { limit: 0 },
      headers: { authorization: `Bearer ${API_TOKEN}` },
    });
    const cases: Array<[string, Promise<{ statusCode: number; body: string }>, number, RegExp]> = [
      ['malformed JSON', raw.post('instances', { body: '{"element": ', headers: { 'content-type': 'application/json' } }), 400, /malformed JSON/],
      ['not an object', raw.post('instances', { body: '[1]', headers: { 'content-type': 'application/json' } }), 400, /JSON object/],
      [
        'wrong content type',
        raw.post('instances', { body: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
        415,
        /application\/json/,
      ],
      [
        'too large',
        raw.post('instances', { body: JSON.stringify({ name: 'x'.repeat(5000) }), headers: { 'content-type': 'application/json' } }),
        413,
        /4096 bytes/,
      ],
      ['no element', raw.post('instances', { json: { configuration: {} } }), 400, /element\.key/],
      ['unknown connector', raw.post('instances', { json: { element: { key: 'nope' }, configuration: {} } }), 400, /unknown connector "nope"/],
      ['missing required field', raw.post('instances', { json: { element: { key: 'crm' }, configuration: { base_url: provider.url } } }), 400, /api_key/],
      [
        'wrong types',
        raw.post('instances', {
          json: { element: { key: 'crm' }, name: 42, tags: 'x', configuration: { base_url: provider.url, api_key: 'k', 'event.notification.enabled': 'yes' } },
        }),
        400,
        /name/,
      ],
      [
        'interval below the minimum',
        raw.post('instances', {
          json: { element: { key: 'crm' }, configuration: { base_url: provider.url, api_key: 'k', 'event.poller.refresh_interval': '0.5' } },
        }),
        400,
        /refresh_interval/,
      ],
      [
        'bad poller configuration',
        raw.post('instances', {
          json: { element: { key: 'crm' }, configuration: { base_url: provider.url, api_key: 'k', 'event.poller.configuration': '{not json' } },
        }),
        400,
        /event\.poller\.configuration/,
      ],
      [
        'hostile callback URL',
        raw.post('instances', {
          json: {
            element: { key: 'crm' },
            configuration: { base_url: provider.url, api_key: 'k', 'event.notification.callback.url': 'http://169.254.169.254/latest' },
          },
        }),
        400,
        /link-local/,
      ],
      [
        'unsupported date letter',
        raw.post('instances', {
          json: {
            element: { key: 'crm' },
            configuration: {
              base_url: provider.url,
              api_key: 'k',
              'event.poller.configuration': { contacts: { url: '/contacts?since=${date:QQQ}', idField: 'id' } },
            },
          },
        }),
        400,
        /letter "Q"/,
      ],
      [
        'hostile provider URL',
        raw.post('instances', { json: { element: { key: 'crm' }, configuration: { base_url: 'javascript:alert(1)', api_key: 'k' } } }),
        400,
        /provider URL/,
      ],
      [
        'metadata provider URL',
        raw.post('instances', { json: { element: { key: 'crm' }, configuration: { base_url: 'http://169.254.169.254/latest', api_key: 'k' } } }),
        400,
        /link-local/,
      ],
      ['unknown instance', raw.get('instances/999'), 404, /instance 999/],
      ['bad instance id', raw.get('instances/abc'), 400, /positive integer/],
      ['unknown route', raw.get('nothing/here'), 404, /no route/],
      ['bad page size', raw.get('instances?pageSize=9999'), 400, /pageSize/],
      ['bad page token', raw.get('instances?nextPage=%%%'), 400, /nextPage/],
      ['bad enabled flag', raw.put('instances/1/events/enabled', { json: { enabled: 'maybe' } }), 404, /instance 1/],
      ['no token', got(`${t.url}/elements/api-v2/instances`, { throwHttpErrors: false, retry: { limit: 0 } }), 401, /Bearer/],
      ['bad connector', raw.post('elements', { json: { key: 'Bad Key!', name: 'x' } }), 400, /key/],
    ];
    for (const [name, request, status, message] of cases) {
      const res = await request;
      expect(res.statusCode, name).to.equal(status);
      const body = JSON.parse(res.body);
      expect(body.code, name).to.be.a('string');
      expect(body.message, name).to.match(message);
      expect(body.details, name).to.be.an('array');
      expect(res.body, name).not.to.match(/\n\s+at /);
    }
    expect((await t.api.get('instances')).body).to.deep.equal([]);
  });

  it('pages lists newest first with Elements-Next-Page-Token', async () => {
    for (let i = 0; i < 3; i++) await createInstance(t, 'crm', provider.url);
    const first = await t.api.get('instances?pageSize=2');
    expect((first.body as unknown as Array<{ id: number }>).map((i) => i.id)).to.deep.equal([3, 2]);
    const token = first.headers['elements-next-page-token'] as string;
    expect(token).to.be.a('string');
    const second = await t.api.get(`instances?pageSize=2&nextPage=${token}`);
    expect((second.body as unknown as Array<{ id: number }>).map((i) => i.id)).to.deep.equal([1]);
    expect(second.headers['elements-next-page-token']).to.equal(undefined);
  });

  it('lists connectors and refuses to replace a bundled one', async () => {
    const list = (await t.api.get('elements')).body as unknown as Array<{ key: string; eventModes: string[] }>;
    expect(list.map((c) => c.key)).to.include.members(['sandbox', 'crm']);
    expect((await t.api.get('elements/sandbox')).body).to.deep.include({ key: 'sandbox', eventModes: ['polling', 'webhook'] });
    expect((await t.api.get('elements/nope')).statusCode).to.equal(404);
    expect((await t.api.post('elements', { json: { ...providerConnector('sandbox') } })).statusCode).to.equal(409);
  });

  it('DELETE removes the instance and its poll plan', async () => {
    const { id } = await createInstance(t, 'crm', provider.url);
    expect((await t.api.delete(`instances/${id}`)).statusCode).to.equal(200);
    expect((await t.api.get(`instances/${id}`)).statusCode).to.equal(404);
    expect(await t.gateway.db('poll_objects').where({ instance_id: id })).to.have.length(0);
  });
});

describe('operations endpoints', () => {
  let t: TestGateway;
  beforeEach(async () => (t = await startGateway()));
  afterEach(() => t.close());

  it('serves /health, /health/ready and /openapi.json without auth, /metrics with the token', async () => {
    const health = await got(`${t.url}/health`).json<{ status: string; node: string }>();
    expect(health.status).to.equal('ok');
    expect(health.node).to.equal(t.gateway.nodeId);
    expect(await got(`${t.url}/health/ready`).json()).to.deep.include({ status: 'ready', migrated: true });
    expect(await got(`${t.url}/metrics`, { headers: { authorization: `Bearer ${API_TOKEN}` } }).text()).to.include('pollgate_polls_total');
    const spec = await got(`${t.url}/openapi.json`).json<{ openapi: string; paths: Record<string, unknown> }>();
    expect(spec.openapi).to.equal('3.1.0');
    expect(spec.paths).to.have.property('/elements/api-v2/instances/{id}/events/poll');
  });
});

describe('network policy on provider calls', () => {
  it('refuses an IP-literal provider address the policy forbids, sending nothing', async () => {
    const { sendProviderRequest, ProviderError } = await import('../../src/provider/http-client.js');
    const { Outbound } = await import('../../src/network/outbound.js');
    const provider = await EmulatedProvider.start();
    try {
      const outbound = new Outbound();
      const err = await sendProviderRequest(
        { method: 'GET', url: `${provider.url}/contacts`, headers: {} },
        { outbound, maxAttempts: 1, retryDelayMs: 0, timeoutMs: 1000, policy: { allowLoopback: false, allowPrivate: false } },
      ).catch((e) => e);
      await outbound.close();
      expect(err).to.be.instanceOf(ProviderError);
      expect(err).to.include({ errorSource: 'PLATFORM', code: 'BLOCKED', attempts: 0 });
      expect(provider.requests).to.have.length(0);
    } finally {
      await provider.close();
    }
  });
});
