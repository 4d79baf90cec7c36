import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { SandboxProvider } from '../../sandbox/sandbox.js';
import { createInstance, providerConnector, registerConnector } from '../poller/helpers.js';

const MINUTE = 60_000;
const count = async (t: TestGateway, table: string) => Number(((await t.gateway.db(table).count({ n: '*' })) as Array<{ n: number }>)[0].n);

describe('security: input rules (findings 4, 5, 6, 9, 12, 16)', () => {
  let t: TestGateway;
  let provider: EmulatedProvider;
  beforeEach(async () => {
    t = await startGateway();
    provider = await EmulatedProvider.start();
    await registerConnector(t, providerConnector('crm'));
  });
  afterEach(async () => {
    await t.close();
    await provider.close();
  });

  const post = (configuration: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    t.api.post('instances', {
      json: { element: { key: 'crm' }, configuration: { base_url: provider.url, api_key: 'k-1', 'event.vendor.type': 'polling', ...configuration }, ...extra },
    });
  const raw = (body: string) => t.api.post('instances', { body, headers: { 'content-type': 'application/json' } });

  it('refuses control, bidi and lone-surrogate characters in names and tags, and __proto__/constructor keys (finding 16)', async () => {
    for (const name of ['bad\u0000name', 'invoice\u202egpj.exe', 'lone \ud800 surrogate', 'tab\there', 'rlm\u200f']) {
      const res = await post({}, { name });
      expect(res.statusCode, JSON.stringify(name)).to.equal(400);
      expect((res.body as unknown as { details: Array<{ field: string }> }).details[0].field).to.equal('name');
    }
    expect((await post({}, { tags: ['ok', 'x\u2066y'] })).statusCode).to.equal(400);
    for (const key of ['__proto__', 'constructor', 'prototype', 'a\u0000b']) {
      const res = await raw(
        `{"element":{"key":"crm"},"configuration":{"base_url":"${provider.url}","api_key":"k","${JSON.stringify(key).slice(1, -1)}":{"polluted":true}}}`,
      );
      expect(res.statusCode, key).to.equal(400);
      expect(JSON.stringify(res.body)).to.match(/not allowed as a key|control/);
    }
    expect(await count(t, 'instances')).to.equal(0);
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
  });

  it('refuses a cron schedule firing more often than poller.minIntervalSeconds, and too many object types (finding 4)', async () => {
    const everySecond = await post({ 'event.poller.schedule': '* * * * * *' });
    expect(everySecond.statusCode).to.equal(400);
    expect(JSON.stringify(everySecond.body)).to.match(/fires 1 s apart/);
    expect((await post({ 'event.poller.schedule': '0,30 * * * * *' })).statusCode).to.equal(400);
    expect((await post({ 'event.poller.schedule': '*/5 * * * *' })).statusCode).to.equal(201);
    const objects = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`o${i}`, { url: '/contacts', idField: 'id' }]));
    const many = await post({ 'event.poller.configuration': objects });
    expect(many.statusCode).to.equal(400);
    expect(JSON.stringify(many.body)).to.match(/at most 100 object types/);
    expect(await count(t, 'instances')).to.equal(1);
  });

  it('a PATCH that moves the provider or callback host must give the secrets again (finding 6)', async () => {
    const { id } = await createInstance(t, 'crm', provider.url, {
      'event.notification.callback.url': 'http://127.0.0.1:9/cb',
      'event.notification.callback.password': 'cb-pw',
      'event.notification.callback.auth': 'basic',
      'event.notification.callback.username': 'u',
    });
    const before = await t.gateway.db('instances').where({ id }).first('configuration');
    const moved = await t.api.patch(`instances/${id}`, { json: { configuration: { base_url: 'http://127.0.0.1:1/evil' } } });
    expect(moved.statusCode).to.equal(400);
    expect(JSON.stringify(moved.body)).to.match(/configuration\.api_key.*another host/);
    expect(await t.gateway.db('instances').where({ id }).first('configuration')).to.deep.equal(before);
    expect(
      (await t.api.patch(`instances/${id}`, { json: { configuration: { base_url: 'http://127.0.0.1:1/evil', api_key: '********' } } })).statusCode,
    ).to.equal(400);
    const resupplied = await t.api.patch(`instances/${id}`, { json: { configuration: { base_url: 'http://127.0.0.1:1/evil', api_key: 'new-key' } } });
    expect(resupplied.statusCode, JSON.stringify(resupplied.body)).to.equal(200);
    // Same origin, another path: the secret may stay.
    expect((await t.api.patch(`instances/${id}`, { json: { configuration: { base_url: 'http://127.0.0.1:1/other' } } })).statusCode).to.equal(200);
    const callback = await t.api.patch(`instances/${id}`, { json: { configuration: { 'event.notification.callback.url': 'http://127.0.0.1:8/cb' } } });
    expect(callback.statusCode).to.equal(400);
    expect(JSON.stringify(callback.body)).to.match(/callback\.password/);
    expect((await t.api.patch(`instances/${id}`, { json: { name: 'renamed' } })).statusCode).to.equal(200);
  });

  it('refuses a recurring schedule whose period is unbounded (finding 9)', async () => {
    const { id } = await createInstance(t, 'crm', provider.url, { 'event.notification.callback.url': 'http://127.0.0.1:9/cb' });
    const at = new Date(t.clock.now() + 10 * MINUTE).toISOString();
    for (const frequency of [1e308, 527041]) {
      const res = await t.api.post(`instances/${id}/schedules`, {
        json: { name: `s${frequency}`, data: {}, schedule_at: at, repeat: { time_unit: 'minutes', frequency } },
      });
      expect(res.statusCode, String(frequency)).to.equal(400);
    }
    const ok = await t.api.post(`instances/${id}/schedules`, {
      json: { name: 'yearly', data: {}, schedule_at: at, repeat: { time_unit: 'days', frequency: 366 } },
    });
    expect(ok.statusCode).to.equal(201);
    t.clock.advance(400 * 24 * 60 * MINUTE);
    expect((await t.api.get(`instances/${id}/schedules`)).statusCode).to.equal(200);
  });

  it('follows next-page links only within the listing origin (finding 5)', async () => {
    const elsewhere: Array<{ url?: string; authorization?: string }> = [];
    const other = http.createServer((req, res) => {
      elsewhere.push({ url: req.url, authorization: req.headers.authorization });
      res.end('[]');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    const lister = http.createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('link', `<${otherUrl}/contacts?page=2>; rel="next"`);
      res.end('[{"id": 1, "updated_at": "2026-11-24T10:00:00.000Z"}]');
    });
    await new Promise<void>((r) => lister.listen(0, '127.0.0.1', r));
    try {
      const listerUrl = `http://127.0.0.1:${(lister.address() as AddressInfo).port}`;
      const link = (allowedOrigins?: string[]) => ({
        contacts: { path: '/contacts', idField: 'id', pagination: { type: 'link' as const, ...(allowedOrigins ? { allowedOrigins } : {}) } },
      });
      await registerConnector(t, providerConnector('linked', { resources: link(), poller: { contacts: { url: '/contacts', idField: 'id' } } }));
      const { id } = await createInstance(t, 'linked', listerUrl);
      const result = (await t.api.post(`instances/${id}/events/poll`)).body as unknown as { objects: { contacts: { error?: string } } };
      expect(result.objects.contacts.error).to.match(/another origin/);
      expect(elsewhere).to.deep.equal([]);

      await registerConnector(t, providerConnector('linked2', { resources: link([otherUrl]), poller: { contacts: { url: '/contacts', idField: 'id' } } }));
      const second = await createInstance(t, 'linked2', listerUrl);
      const ok = (await t.api.post(`instances/${second.id}/events/poll`)).body as unknown as { objects: { contacts: { error?: string; fetched: number } } };
      expect(ok.objects.contacts.error).to.equal(undefined);
      expect(elsewhere).to.have.length(1);
    } finally {
      await new Promise((r) => other.close(r));
      await new Promise((r) => lister.close(r));
    }
  });

  it('refuses "." and ".." substituted into a request path (finding 12)', async () => {
    const sandbox = await SandboxProvider.start();
    try {
      const res = await t.api.post('instances', {
        json: { element: { key: 'sandbox' }, configuration: { base_url: sandbox.url, api_key: 'k', 'event.vendor.type': 'polling' } },
      });
      const id = (res.body as unknown as { id: number }).id;
      sandbox.provider.clearRequests();
      for (const value of ['..', '.']) {
        const invoked = await t.api.post(`instances/${id}/requests/getContact`, { json: { context: { id: value } } });
        expect(invoked.statusCode, value).to.equal(400);
      }
      expect(sandbox.provider.requests).to.deep.equal([]);
      expect((await t.api.post(`instances/${id}/requests/getContact`, { json: { context: { id: '..x' } } })).statusCode).not.to.equal(400);
    } finally {
      await sandbox.close();
    }
  });
});
