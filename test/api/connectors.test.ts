import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import got from 'got';
import { ManualClock } from '../../src/clock.js';
import { dropSchema, newSchemaName, startGateway, usePostgres, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { createInstance, pollNow, providerConnector, registerConnector } from '../poller/helpers.js';
import { capturedLogger, startTokenEndpoint, type TokenEndpoint } from '../auth/helpers.js';

type ErrorBody = { code: string; message: string; details: Array<Record<string, unknown>> };

/**
 * Replacing a custom connector must not send its instances' stored secrets somewhere new without
 * saying so: POST of an existing key is a 409, and a PUT that moves a destination of secrets (base
 * URL, token URL, a request template's host) is a 409 naming the instances, unless
 * `?moveSecrets=true` (logged).
 */
describe('custom connectors: replacing one that instances use', () => {
  let t: TestGateway;
  let provider: EmulatedProvider;
  let elsewhere: EmulatedProvider;
  let logs: string[];

  beforeEach(async () => {
    const captured = capturedLogger();
    logs = captured.lines;
    t = await startGateway({ options: { log: captured.log } });
    provider = await EmulatedProvider.start({ requireAuth: { type: 'bearer', token: 'sk-test-secret-123' } });
    elsewhere = await EmulatedProvider.start();
    provider.now = () => t.clock.now();
    elsewhere.now = () => t.clock.now();
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
    await elsewhere.close();
  });

  const put = async (def: Record<string, unknown>, query = '') => {
    const res = await t.api.put(`elements/${def.key as string}${query}`, { json: def });
    return { status: res.statusCode, body: res.body as unknown as ErrorBody };
  };
  const hosted = (key: string, baseUrl: string) => providerConnector(key, { baseUrl, configuration: [{ key: 'api_key', required: true, secret: true }] });

  it('answers 409 to POST of an existing key, and keeps the stored definition', async () => {
    await registerConnector(t, providerConnector('crm'));
    const again = await t.api.post('elements', { json: providerConnector('crm', { name: 'Another' }) });
    expect(again.statusCode).to.equal(409);
    expect(again.body).to.deep.include({ code: 'CONFLICT' });
    expect((again.body as unknown as ErrorBody).message).to.match(/already exists; PUT \/elements\/crm replaces it/);
    expect(((await t.api.get('elements/crm')).body as unknown as { name: string }).name).to.equal('Test crm');
  });

  it('refuses a PUT that moves the base URL, a token URL or a template host while instances use it, unless moveSecrets', async () => {
    await registerConnector(t, hosted('crm', provider.url));
    const first = await createInstance(t, 'crm', provider.url);
    const second = await createInstance(t, 'crm', provider.url);

    const moved = await put(hosted('crm', `${elsewhere.url}/v2`));
    expect(moved.status).to.equal(409);
    expect(moved.body.code).to.equal('SECRETS_WOULD_MOVE');
    expect(moved.body.message).to.match(/2 instance\(s\) \(1, 2\).*moveSecrets=true/);
    expect(moved.body.details).to.deep.equal([
      { instanceId: first.id, destinations: ['baseUrl'] },
      { instanceId: second.id, destinations: ['baseUrl'] },
    ]);
    const templated = {
      ...hosted('crm', provider.url),
      requests: { ping: { schema: { protocol: 'http', host: `localhost:${new URL(elsewhere.url).port}`, path: '/ping' } } },
    };
    expect((await put(templated)).body.details[0]).to.deep.equal({ instanceId: first.id, destinations: ['requests.ping'] });
    const oauth = { ...hosted('crm', provider.url), auth: { type: 'oauth2-client-credentials', tokenUrl: `${elsewhere.url}/oauth/token` } };
    expect((await put(oauth)).body.details[0].destinations).to.deep.equal(['auth.tokenUrl']);
    expect((await put(hosted('crm', `${elsewhere.url}/v2`), '?moveSecrets=maybe')).status).to.equal(400);

    // Nothing changed: polls still go to the provider.
    provider.collection('contacts');
    t.clock.advance(60_000);
    expect((await pollNow(t, first.id)).contacts.error).to.equal(undefined);
    expect(elsewhere.requests).to.deep.equal([]);

    // Same origin, another path: nothing moves.
    expect((await put(hosted('crm', `${provider.url}/v1`))).status).to.equal(200);
    // Said explicitly: replaced, logged, and the secrets go there from now on.
    expect((await put(hosted('crm', elsewhere.url), '?moveSecrets=true')).status).to.equal(200);
    const warned = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => /moveSecrets/.test(String(l.msg)));
    expect(warned).to.deep.include({ level: 40, elementKey: 'crm', instances: 2 });
    elsewhere.collection('contacts');
    await pollNow(t, first.id);
    expect(elsewhere.requests.at(-1)!.headers.authorization).to.equal('Bearer sk-test-secret-123');
  });

  it('replaces freely a connector no instance uses; /openapi.json describes moveSecrets', async () => {
    await registerConnector(t, hosted('crm', provider.url));
    expect((await put(hosted('crm', elsewhere.url))).status).to.equal(200);
    const spec = await got(`${t.url}/openapi.json`).json<{ paths: Record<string, Record<string, { parameters: Array<{ name: string; in: string }> }>> }>();
    expect(spec.paths['/elements/api-v2/elements/{key}'].put.parameters.map((p) => `${p.in}:${p.name}`)).to.deep.equal(['path:key', 'query:moveSecrets']);
  });
});

/**
 * DELETE /elements/:key checks that no instance uses the connector; an instance create for that
 * key on another node may be under way (here: held at the provider's token endpoint, between its
 * connector lookup and its insert). The create holds the connector's row in its transaction, so
 * it finds the connector gone and stores nothing; the removal never leaves an instance behind.
 */
describe('custom connectors: removal racing an instance create on another node', () => {
  let nodes: TestGateway[];
  let tokens: TokenEndpoint;
  let dataDir: string;
  let schema: string | undefined;

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'pollgate-race-'));
    schema = usePostgres ? newSchemaName() : undefined;
    tokens = await startTokenEndpoint();
    const clock = new ManualClock();
    nodes = [await startGateway({ clock, dataDir, schema }), await startGateway({ clock, dataDir, schema })];
  });

  afterEach(async () => {
    await tokens.close();
    for (const n of nodes) await n.close();
    if (schema) await dropSchema(schema);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a create that passed its connector check before the removal stores nothing (409), and the removal stands', async () => {
    const [remover, creator] = nodes;
    await registerConnector(
      remover,
      providerConnector('racy', {
        configuration: [{ key: 'base_url', required: true }],
        auth: { type: 'oauth2', authorizationUrl: `${tokens.url}/oauth/authorize`, tokenUrl: `${tokens.url}/oauth/token` },
      } as never),
    );
    expect((await creator.api.get('elements/racy')).statusCode).to.equal(200);

    tokens.script.push('hold');
    const creating = creator.api.post('instances', {
      json: {
        element: { key: 'racy' },
        providerData: { code: 'code-1' },
        configuration: { base_url: 'http://127.0.0.1:9', 'oauth.api.key': 'c', 'oauth.api.secret': 's', 'oauth.callback.url': 'http://127.0.0.1:9/cb' },
      },
    });
    while (tokens.calls().length === 0) await new Promise((r) => setTimeout(r, 5));
    // No instance exists yet: the removal is right to go ahead.
    expect((await remover.api.delete('elements/racy')).statusCode).to.equal(204);
    tokens.release();

    const created = await creating;
    expect(created.statusCode, JSON.stringify(created.body)).to.equal(409);
    expect((created.body as unknown as ErrorBody).message).to.match(/connector "racy" was removed while the instance was being created/);
    expect((await creator.api.get('instances')).body).to.deep.equal([]);
    expect((await creator.api.get('elements/racy')).statusCode).to.equal(404);
  });
});
