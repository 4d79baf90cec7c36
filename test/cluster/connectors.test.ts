import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ManualClock } from '../../src/clock.js';
import { dropSchema, newSchemaName, startGateway, usePostgres, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { createInstance, providerConnector } from '../poller/helpers.js';

/**
 * Custom connectors are cluster-wide: three gateways on one database (a PostgreSQL schema, or one
 * SQLite file), each with its own in-memory registry. What one node registers, replaces or removes
 * is what the others list, create instances of and poll with, from their next request or tick on.
 */
describe('custom connectors across nodes', () => {
  let nodes: TestGateway[] = [];
  let provider: EmulatedProvider;
  let dataDir: string;
  let schema: string | undefined;
  const clock = new ManualClock();

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'pollgate-catalog-'));
    schema = usePostgres ? newSchemaName() : undefined;
    provider = await EmulatedProvider.start();
    provider.now = () => clock.now();
    nodes = [];
    for (let i = 0; i < 3; i++) nodes.push(await startGateway({ clock, dataDir, schema }));
  });

  afterEach(async () => {
    for (const n of nodes) await n.close();
    await provider.close();
    if (schema) await dropSchema(schema);
    rmSync(dataDir, { recursive: true, force: true });
  });

  const keys = async (t: TestGateway) => ((await t.api.get('elements')).body as unknown as Array<{ key: string }>).map((c) => c.key);
  const withVersion = (v: string) => providerConnector('shared', { auth: { type: 'header', name: 'X-Connector-Version', value: v } });

  it('lists, uses and polls on every node what one node registered, and a PUT on another changes the next poll', async () => {
    const [n1, n2, n3] = nodes;
    expect((await n1.api.post('elements', { json: withVersion('v1') })).statusCode).to.equal(201);
    expect(await keys(n2)).to.include('shared');
    expect(await keys(n3)).to.include('shared');
    expect(((await n3.api.get('elements/shared')).body as unknown as { bundled: boolean }).bundled).to.equal(false);

    provider.collection('contacts');
    const instance = await createInstance(n2, 'shared', provider.url);
    clock.advance(5 * 60_000);
    expect(await n2.gateway.poller.tick()).to.equal(1);
    await n2.gateway.poller.idle();
    expect(provider.requests.map((r) => r.headers['x-connector-version'])).to.deep.equal(['v1']);

    const put = await n3.api.put('elements/shared', { json: withVersion('v2') });
    expect(put.statusCode).to.equal(200);
    provider.clearRequests();
    clock.advance(5 * 60_000);
    expect(await n1.gateway.poller.tick()).to.equal(1);
    await n1.gateway.poller.idle();
    expect(provider.requests.map((r) => r.headers['x-connector-version'])).to.deep.equal(['v2']);

    // Removal: refused while an instance uses it, then gone from every node.
    const refused = await n1.api.delete('elements/shared');
    expect(refused.statusCode).to.equal(409);
    expect((refused.body as unknown as { message: string }).message).to.match(/used by 1 instance/);
    expect((await n2.api.delete(`instances/${instance.id}`)).statusCode).to.equal(200);
    expect((await n3.api.delete('elements/shared')).statusCode).to.equal(204);
    expect(await keys(n1)).to.not.include('shared');
    expect((await n2.api.get('elements/shared')).statusCode).to.equal(404);
    const orphan = await n1.api.post('instances', { json: { element: { key: 'shared' }, configuration: { base_url: provider.url, api_key: 'k' } } });
    expect(orphan.statusCode).to.equal(400);
    expect((await n1.api.delete('elements/shared')).statusCode).to.equal(404);
  });

  it('creates with PUT, refuses a key that differs from the path, and never replaces or removes a bundled connector', async () => {
    const [n1, n2] = nodes;
    expect((await n1.api.put('elements/other', { json: providerConnector('other') })).statusCode).to.equal(201);
    expect(await keys(n2)).to.include('other');
    const mismatch = await n2.api.put('elements/other', { json: providerConnector('another') });
    expect(mismatch.statusCode).to.equal(400);
    expect(await keys(n1)).to.not.include('another');
    const invalid = await n2.api.put('elements/other', { json: { key: 'other' } });
    expect(invalid.statusCode).to.equal(400);
    expect(((await n1.api.get('elements/other')).body as unknown as { name: string }).name).to.equal('Test other');
    const bundled = (await keys(n1)).find((k) => k !== 'other')!;
    expect((await n2.api.put(`elements/${bundled}`, { json: providerConnector(bundled) })).statusCode).to.equal(409);
    expect((await n2.api.delete(`elements/${bundled}`)).statusCode).to.equal(409);
  });
});
