import { createHash } from 'node:crypto';
import { expect } from 'chai';
import got from 'got';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { registeredRoutes } from '../helpers/routes.js';
import { SandboxProvider } from '../../sandbox/sandbox.js';
import { providerConnector, registerConnector } from '../poller/helpers.js';

/**
 * A bounded fuzz of every POST/PATCH/PUT route and of webhook ingress: malformed, oversized,
 * deeply nested and hostile inputs, from a seeded generator (the same inputs every run). Each
 * answer must be below 500, the gateway must stay up, and a refused request (4xx) must leave every
 * table exactly as it was (a digest of all rows before and after).
 */
const MAX_BODY = 4096;
const PER_ROUTE = 24;

/** mulberry32: a small seeded generator, so a failure reproduces. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTILE_VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1e308,
  -1e308,
  2 ** 53 + 1,
  '',
  ' ',
  'NaN',
  'Infinity',
  '-0',
  'a\u0000b',
  'x\u202ey',
  '\ud800',
  '\udfff',
  '😀'.repeat(50),
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '../../etc/passwd',
  '..',
  '%2e%2e',
  '${date:yyyy}',
  '<%= iparam.api_key %>',
  '{{7*7}}',
  'http://169.254.169.254/latest/meta-data',
  'http://[::7f00:1]/',
  'enc:v1:AAAA:BBBB:CCCC',
  'x'.repeat(3000),
  [],
  [[[]]],
  {},
  { __proto__: { polluted: true } },
  { constructor: { prototype: { polluted: true } } },
  [1, 'two', null],
];

const nested = (depth: number, open: string, close: string, inner = '1') => open.repeat(depth) + inner + close.repeat(depth);

/** Raw bodies that are not (or not acceptable) JSON documents. */
const MALFORMED: Array<{ body: string; type?: string }> = [
  { body: '{' },
  { body: '{"a":' },
  { body: '[1,2' },
  { body: 'undefined' },
  { body: "{'a': 1}" },
  { body: '{"a": 1,}' },
  { body: '\u0000' },
  { body: '"just a string"' },
  { body: '42' },
  { body: 'null' },
  { body: '[]' },
  { body: nested(5000, '[', ']') },
  { body: nested(3000, '{"a":', '}') },
  { body: nested(40, '{"a":', '}') },
  { body: `{"a": "${'x'.repeat(MAX_BODY * 2)}"}` },
  { body: '{"__proto__": {"polluted": true}}' },
  { body: '{"constructor": {"prototype": {"polluted": true}}}' },
  { body: '{"a": 1}', type: 'text/plain' },
  { body: 'a=1&b=2', type: 'application/x-www-form-urlencoded' },
  { body: '<a>1</a>', type: 'application/xml' },
  { body: '{"a": 1}', type: 'application/json; charset=utf-16' },
];

/** Valid-looking bodies per route, which the fuzzer mutates (a field replaced by a hostile value). */
function seedsFor(path: string): Array<Record<string, unknown>> {
  if (path.endsWith('/instances'))
    return [
      {
        element: { key: 'sandbox' },
        name: 'n',
        configuration: { base_url: 'http://127.0.0.1:9', api_key: 'k', 'event.vendor.type': 'polling', 'event.poller.refresh_interval': '5' },
      },
    ];
  if (/\/instances\/\d+$/.test(path)) return [{ name: 'n', tags: ['a'], configuration: { 'event.poller.refresh_interval': '10' } }];
  if (path.endsWith('/events/enabled')) return [{ enabled: true }];
  if (/\/schedules(\/[^/]+)?$/.test(path))
    return [{ name: 'fuzz', data: { a: 1 }, schedule_at: '2026-11-24T11:00:00Z', repeat: { time_unit: 'minutes', frequency: 5 } }];
  if (path.endsWith('/replay')) return [{ since: '2026-11-24T00:00:00Z' }];
  if (path.includes('/requests/')) return [{ context: { id: 1 } }];
  if (path.includes('/elements')) return [providerConnector('fuzzed')];
  return [{}];
}

function mutate(seed: Record<string, unknown>, random: () => number): unknown {
  const copy = JSON.parse(JSON.stringify(seed)) as Record<string, unknown>;
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
  // Replace a value somewhere in the document (top level or one level down), or add a hostile key.
  const targets: Array<[Record<string, unknown>, string]> = Object.keys(copy).map((k) => [copy, k]);
  for (const v of Object.values(copy))
    if (v && typeof v === 'object' && !Array.isArray(v)) for (const k2 of Object.keys(v)) targets.push([v as Record<string, unknown>, k2]);
  const roll = random();
  if (roll < 0.7 && targets.length) {
    const [obj, key] = pick(targets);
    obj[key] = pick(HOSTILE_VALUES);
  } else if (roll < 0.85) {
    copy[pick(['__proto__', 'constructor', 'x\u0000', 'k\u202e', 'name', 'configuration'])] = pick(HOSTILE_VALUES);
  } else {
    return pick(HOSTILE_VALUES);
  }
  return copy;
}

describe('security: fuzzing every write route and webhook ingress', function () {
  this.timeout(120_000);
  let t: TestGateway;
  let sandbox: SandboxProvider;
  let fill: Record<string, string>;

  before(async () => {
    t = await startGateway({
      config: {
        server: { maxBodyBytes: MAX_BODY },
        webhooks: { maxBodyBytes: MAX_BODY, rateLimitPerMinute: 100_000 },
        requests: { rateLimitPerMinute: 100_000 },
      },
    });
    sandbox = await SandboxProvider.start();
    await registerConnector(t, providerConnector('crm'));
    const polling = await t.api.post('instances', {
      json: {
        element: { key: 'sandbox' },
        configuration: { base_url: sandbox.url, api_key: 'k', 'event.vendor.type': 'polling', 'event.notification.callback.url': 'http://127.0.0.1:9/cb' },
      },
    });
    const hooks = await t.api.post('instances', {
      json: {
        element: { key: 'sandbox' },
        configuration: { base_url: sandbox.url, api_key: 'k', webhook_secret: 'whk-secret-123', 'event.vendor.type': 'webhook' },
      },
    });
    expect(polling.statusCode).to.equal(201);
    expect(hooks.statusCode).to.equal(201);
    const id = (polling.body as unknown as { id: number }).id;
    const token = (hooks.body as unknown as { webhookUrl: string }).webhookUrl.split('/').pop()!;
    expect((await t.api.post(`instances/${id}/schedules`, { json: { name: 'existing', data: {}, schedule_at: '2026-11-24T11:00:00Z' } })).statusCode).to.equal(
      201,
    );
    fill = { id: String(id), key: 'crm', name: 'existing', template: 'getContact', token };
  });
  after(async () => {
    await t.close();
    await sandbox.close();
  });

  let tables: string[] | undefined;
  // Tables the write routes change in place; an insert or delete anywhere shows in the row counts.
  const UPDATED_IN_PLACE = ['connectors', 'instances', 'poll_objects', 'schedules', 'notifications', 'instance_auth'];

  /** Row counts of every table (one query) and the full rows of the tables updated in place. */
  async function digest(): Promise<string> {
    const db = t.gateway.db;
    tables ??= (
      db.client.config.client === 'pg'
        ? ((await db('information_schema.tables').where({ table_schema: t.schema }).select('table_name as name')) as Array<{ name: string }>)
        : ((await db('sqlite_master').where({ type: 'table' }).select('name')) as Array<{ name: string }>)
    )
      .map((r) => r.name)
      .filter((n) => !n.startsWith('knex_') && !n.startsWith('sqlite_'))
      .sort();
    const counts = await db.raw(tables.map((n) => `select '${n}' as name, count(*) as n from "${n}"`).join(' union all '));
    const contents = await Promise.all(
      UPDATED_IN_PLACE.filter((n) => tables!.includes(n)).map(async (n) => (await db(n).select()).map((r) => JSON.stringify(r)).sort()),
    );
    return createHash('sha256')
      .update(JSON.stringify([counts.rows ?? counts, contents]))
      .digest('hex');
  }

  async function send(method: string, path: string, body: string, type = 'application/json'): Promise<{ status: number; text: string }> {
    const res = await got(`${t.url}${path}`, {
      method: method as 'POST',
      body,
      headers: { 'content-type': type, authorization: `Bearer ${t.gateway.apiToken}` },
      throwHttpErrors: false,
      retry: { limit: 0 },
    });
    return { status: res.statusCode, text: res.body };
  }

  // The digest taken after a refusal is the next check's "before": a refusal changed nothing, so
  // the data is still as it was (after anything else, the next check takes a fresh one).
  let unchangedSince: string | undefined;
  async function check(method: string, path: string, body: string, type?: string, failures: string[] = []): Promise<void> {
    const before = unchangedSince ?? (await digest());
    unchangedSince = undefined;
    const { status, text } = await send(method, path, body, type);
    const shown = `${method} ${path} ${JSON.stringify(body.slice(0, 120))} → ${status} ${text.slice(0, 160)}`;
    // 502 PROVIDER_ERROR is the provider's own answer to a valid invocation, relayed (and logged):
    // neither our error nor a refusal.
    if (status === 502 && text.startsWith('{"code":"PROVIDER_ERROR"')) return;
    if (status >= 500) failures.push(shown);
    else if (status >= 400) {
      const after = await digest();
      if (after !== before) failures.push(`changed data: ${shown}`);
      else unchangedSince = after;
      // The connect page answers a browser: its refusals are HTML pages saying why (test/connect).
      const page = path.startsWith('/connect/') && text.startsWith('<!doctype html>');
      if (!page && !/^\{"code":"[A-Z_]+","message":/.test(text)) failures.push(`not a JSON error: ${shown}`);
    }
  }

  it('answers every hostile input to every POST/PATCH/PUT route below 500, and a refusal changes nothing', async () => {
    expect(tables ?? (await digest(), tables)).to.include.members(['instances', 'events', 'webhook_receipts', 'request_log']);
    const random = seeded(12);
    const routes = registeredRoutes(t, (name) => fill[name] ?? '1').filter((r) => ['POST', 'PATCH', 'PUT'].includes(r.method) && !r.path.startsWith('/hooks/'));
    expect(routes.length).to.be.at.least(10);
    const failures: string[] = [];
    let sent = 0;
    const started = Date.now();
    for (const route of routes) {
      for (const m of MALFORMED) {
        await check(route.method, route.path, m.body, m.type, failures);
        sent++;
      }
      const seeds = seedsFor(route.path);
      for (let i = 0; i < PER_ROUTE; i++) {
        await check(route.method, route.path, JSON.stringify(mutate(seeds[i % seeds.length], random)) ?? 'null', undefined, failures);
        sent++;
      }
    }
    expect(failures, failures.slice(0, 20).join('\n')).to.deep.equal([]);
    expect(sent).to.be.greaterThan(routes.length * PER_ROUTE);
    expect(Date.now() - started).to.be.below(100_000);
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    expect((await got(`${t.url}/health`)).statusCode).to.equal(200);
  });

  it('answers every hostile webhook below 500, and a refused one stores nothing', async () => {
    const random = seeded(34);
    const failures: string[] = [];
    const path = `/hooks/${fill.token}`;
    const bodies = [
      ...MALFORMED,
      ...Array.from({ length: 40 }, () => ({
        body: JSON.stringify(mutate({ events: [{ collection: 'contacts', action: 'updated', record: { id: 1 } }] }, random)) ?? 'null',
        type: undefined,
      })),
    ];
    for (const b of bodies) await check('POST', path, b.body, b.type, failures);
    for (const hostilePath of ['/hooks/..%2F..%2Fetc', `/hooks/${fill.token}%00`, `/hooks/${'a'.repeat(5000)}`])
      await check('POST', hostilePath, '{}', undefined, failures);
    expect(failures, failures.slice(0, 20).join('\n')).to.deep.equal([]);
    expect((await got(`${t.url}/health`)).statusCode).to.equal(200);
  });
});
