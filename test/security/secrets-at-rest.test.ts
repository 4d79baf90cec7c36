import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SECRET_KEY, dropSchema, newSchemaName, startGateway, usePostgres, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { createInstance, providerConnector, registerConnector } from '../poller/helpers.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { rekey } from '../../src/secrets/stored.js';

const OTHER_KEY = 'another-secret-key-0123456789abcdef01234';
const LOOKS_ENCRYPTED = 'enc:v1:AAAA:BBBB:CCCC';

describe('security: secrets at rest (key ring, ciphertext wrapper, rekey)', () => {
  let provider: EmulatedProvider;
  let dataDir: string;
  let schema: string | undefined;
  const open: TestGateway[] = [];

  /** Gateways on one database (same data folder / schema), so a restart keeps the data. */
  const start = async (security: Record<string, unknown> = {}) => {
    const t = await startGateway({ dataDir, schema, config: { security: { secretKey: SECRET_KEY, ...security } } });
    open.push(t);
    return t;
  };

  beforeEach(async () => {
    provider = await EmulatedProvider.start();
    dataDir = mkdtempSync(join(tmpdir(), 'pollgate-keys-'));
    schema = usePostgres ? newSchemaName() : undefined;
  });

  afterEach(async () => {
    for (const t of open.splice(0)) await t.close();
    await provider.close();
    if (schema) await dropSchema(schema);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('encrypts a configuration value that looks like ciphertext, and reads it back (finding 2)', async () => {
    const t = await start();
    await registerConnector(t, providerConnector('crm'));
    const created = await t.api.post('instances', {
      json: { element: { key: 'crm' }, configuration: { base_url: provider.url, api_key: LOOKS_ENCRYPTED, 'event.vendor.type': 'polling' } },
    });
    expect(created.statusCode).to.equal(201);
    const id = (created.body as unknown as { id: number }).id;
    expect((await t.api.get('instances')).statusCode).to.equal(200);
    expect((await t.api.get(`instances/${id}`)).statusCode).to.equal(200);
    const row = await t.gateway.db('instances').where({ id }).first();
    expect(row.configuration).not.to.include(LOOKS_ENCRYPTED);
    expect((await t.gateway.instances.require(id)).configuration.api_key).to.equal(LOOKS_ENCRYPTED);
  });

  it('makes an undecryptable row an error of that row, not of the list (finding 2)', async () => {
    const t = await start();
    await registerConnector(t, providerConnector('crm'));
    const good = await createInstance(t, 'crm', provider.url);
    const bad = await createInstance(t, 'crm', provider.url);
    // The bad row's secret was written under a key this gateway does not hold.
    const foreign = JSON.stringify({ $enc: new SecretCipher(OTHER_KEY).encrypt('lost') });
    const row = await t.gateway.db('instances').where({ id: bad.id }).first();
    await t.gateway
      .db('instances')
      .where({ id: bad.id })
      .update({ configuration: row.configuration.replace(/\{"\$enc":"[^"]+"\}/, foreign) });

    const list = await t.api.get('instances');
    expect(list.statusCode).to.equal(200);
    const listed = list.body as unknown as Array<{ id: number; secretsUnreadable?: string[] }>;
    expect(listed.map((i) => i.id)).to.have.members([good.id, bad.id]);
    expect(listed.find((i) => i.id === bad.id)!.secretsUnreadable).to.deep.equal(['api_key']);
    expect(listed.find((i) => i.id === good.id)!.secretsUnreadable).to.equal(undefined);

    // Its work fails with the reason, recorded on that instance alone.
    const poll = await t.api.post(`instances/${bad.id}/events/poll`);
    expect((poll.body as unknown as { objects: { contacts: { error: string } } }).objects.contacts.error).to.match(/api_key cannot be decrypted/);
    expect(JSON.stringify((await t.api.post(`instances/${good.id}/events/poll`)).body))
      .to.include('"contacts"')
      .and.not.match(/decrypt/);
    expect((await t.api.patch(`instances/${bad.id}`, { json: { name: 'x' } })).statusCode).to.equal(400);
    const fixed = await t.api.patch(`instances/${bad.id}`, { json: { configuration: { api_key: 'sk-test-secret-123' } } });
    expect(fixed.statusCode).to.equal(200);
    expect((fixed.body as unknown as { secretsUnreadable?: string[] }).secretsUnreadable).to.equal(undefined);
    const repolled = (await t.api.post(`instances/${bad.id}/events/poll`)).body;
    expect(JSON.stringify(repolled))
      .to.include('"contacts"')
      .and.not.match(/decrypt/);
  });

  it('refuses to start when no configured key reads the data, reads with a previous key, and rekeys (finding 8)', async () => {
    const first = await start();
    await registerConnector(first, providerConnector('crm'));
    const { id } = await createInstance(first, 'crm', provider.url);
    await first.close();

    // Another key alone: start-up stops with a message naming the problem, instead of answering 500 later.
    let failure: Error | undefined;
    await start({ secretKey: OTHER_KEY }).catch((err: Error) => (failure = err));
    expect(failure?.message).to.match(/cannot read.*previousSecretKeys.*pollgate rekey/);

    // The old key as a previous key: reads work; rekey moves everything to the new key.
    const rotated = await start({ secretKey: OTHER_KEY, previousSecretKeys: [SECRET_KEY] });
    expect((await rotated.gateway.instances.require(id)).configuration.api_key).to.equal('sk-test-secret-123');
    // The key ring as `pollgate rekey` builds it from the configuration.
    const { security } = rotated.config;
    const keys = SecretCipher.fromConfig(security.secretKey, rotated.config.database.dataDir, security.previousSecretKeys);
    const result = await rekey(rotated.gateway.db, keys);
    expect(result.unreadable).to.deep.equal([]);
    expect(result.rekeyed).to.be.at.least(2); // the configuration's api_key and the signing secrets
    expect((await rekey(rotated.gateway.db, keys)).rekeyed).to.equal(0);
    await rotated.close();

    const after = await start({ secretKey: OTHER_KEY });
    const read = await after.gateway.instances.require(id);
    expect(read.configuration.api_key).to.equal('sk-test-secret-123');
    expect(read.unreadableSecrets).to.deep.equal([]);
    expect((await after.api.get(`instances/${id}/signing-secret`)).statusCode).to.equal(200);
  });

  it('names the key of every ciphertext and still reads the older form without one', () => {
    const cipher = new SecretCipher(SECRET_KEY, [OTHER_KEY]);
    const stored = cipher.encrypt('x');
    expect(SecretCipher.keyIdOf(stored)).to.equal(cipher.currentKeyId);
    expect(cipher.keyIds).to.have.length(2);
    expect(SecretCipher.keyIdOf(LOOKS_ENCRYPTED)).to.equal('v1');
    expect(SecretCipher.keyIdOf('hello')).to.equal(undefined);
    expect(() => cipher.decrypt(LOOKS_ENCRYPTED)).to.throw(/no key/);
  });
});
