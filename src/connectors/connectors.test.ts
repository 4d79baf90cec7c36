import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConflictError, DefinitionError, ValidationError } from '../errors.js';
import { ConnectorRegistry } from './registry.js';
import { parseCeqlWhere, resolvePollerObject } from './resolve.js';
import type { ConnectorDefinition } from './schema.js';
import { validateConnector } from './validate.js';

/** DESIGN.md's example connector; each test changes a copy. */
function freshdesk(): Record<string, any> {
  return {
    key: 'freshdesk',
    name: 'Freshdesk',
    hub: 'helpdesk',
    configuration: [
      { key: 'domain', required: true },
      { key: 'api_key', required: true, secret: true },
      { key: 'webhook_secret', secret: true },
    ],
    baseUrl: 'https://<%= iparam.domain %>.freshdesk.com/api/v2',
    auth: { type: 'basic', username: '<%= iparam.api_key %>', password: 'X' },
    resources: {
      incidents: {
        path: '/tickets',
        idField: 'id',
        recordsPath: '$[*]',
        where: { 'updated_at>': { param: 'updated_since' }, 'status=': { param: 'status' } },
        pagination: { type: 'page', pageParam: 'page', sizeParam: 'per_page', size: 100 },
      },
      contacts: { path: '/contacts', idField: 'id', deletes: true, pagination: { type: 'link' } },
    },
    events: {
      supported: ['polling', 'webhook'],
      poller: {
        incidents: {
          url: "/hubs/helpdesk/incidents?where=updated_at>'${date:yyyy-MM-dd'T'HH:mm:ss'Z'}'",
          idField: 'id',
          datesConfiguration: {
            updatedDateField: 'updated_at',
            updatedDateFormat: "yyyy-MM-dd'T'HH:mm:ss'Z'",
            createdDateField: 'created_at',
            createdDateFormat: "yyyy-MM-dd'T'HH:mm:ss'Z'",
          },
        },
      },
      webhook: {
        register: 'createWebhook',
        deregister: 'deleteWebhook',
        webhookIdPath: '$.id',
        signature: { scheme: 'hmac', algorithm: 'sha256', header: 'X-Signature', encoding: 'base64', secret: '<%= iparam.webhook_secret %>' },
        handshake: { type: 'echo-query', param: 'challenge' },
        deliveryIdHeader: 'X-Delivery-Id',
        events: {
          itemsPath: '$.events[*]',
          objectType: '$.type',
          objectId: ['$.data.id', '$.id'],
          eventType: { from: '$.action', map: { created: 'CREATED', updated: 'UPDATED', deleted: 'DELETED' }, default: 'UPDATED' },
          date: '$.occurred_at',
        },
      },
    },
    requests: {
      createWebhook: {
        schema: { method: 'POST', path: '/webhooks', body: { url: '<%= context.targetUrl %>', secret: '<%= iparam.webhook_secret %>' } },
        secretsInBody: ['webhook_secret'],
        options: { maxAttempts: 3, retryDelay: 1000 },
      },
      deleteWebhook: { schema: { method: 'DELETE', path: '/webhooks/<%= context.webhookId %>' } },
    },
  };
}

/** The DefinitionError validateConnector throws for `def`. */
function problemsOf(def: unknown, source = 'request body'): DefinitionError {
  try {
    validateConnector(def, source);
  } catch (err) {
    expect(err).to.be.instanceOf(DefinitionError);
    return err as DefinitionError;
  }
  throw new Error('expected the connector to be refused');
}

describe('connector validation', () => {
  it('accepts the DESIGN.md example', () => {
    const def = validateConnector(freshdesk(), 'request body');
    expect(def.key).to.equal('freshdesk');
  });

  const schemaCases: Array<[string, (d: Record<string, any>) => void, string, RegExp]> = [
    ['a missing poller url', (d) => delete d.events.poller.incidents.url, '/events/poller/incidents/url', /is required/],
    ['a typo in a resource field', (d) => (d.resources.incidents.idfield = 'id'), '/resources/incidents/idfield', /is not a known field/],
    ['a bad key', (d) => (d.key = 'Fresh Desk'), '/key', /must match pattern/],
    [
      'a page pagination without pageParam',
      (d) => delete d.resources.incidents.pagination.pageParam,
      '/resources/incidents/pagination/pageParam',
      /is required/,
    ],
    [
      'an unknown pagination type',
      (d) => (d.resources.incidents.pagination.type = 'pages'),
      '/resources/incidents/pagination/type',
      /must be one of "page", "offset", "cursor", "link"/,
    ],
    ['an unknown signature scheme', (d) => (d.events.webhook.signature.scheme = 'md5'), '/events/webhook/signature/scheme', /must be one of/],
    [
      'a where key without operator',
      (d) => (d.resources.incidents.where.updated_at = { param: 'x' }),
      '/resources/incidents/where/updated_at',
      /field followed by an operator/,
    ],
    ['a handshake without its param', (d) => delete d.events.webhook.handshake.param, '/events/webhook/handshake/param', /is required/],
    ['an unknown event mode', (d) => (d.events.supported = ['streaming']), '/events/supported/0', /must be one of "polling", "webhook"/],
    ['an objectId that is a number', (d) => (d.events.webhook.events.objectId = 5), '/events/webhook/events/objectId', /^must be string or array$/],
    ['a template that is not an object', (d) => (d.requests.createWebhook = 'POST /webhooks'), '/requests/createWebhook', /must be object/],
  ];
  for (const [what, change, field, message] of schemaCases) {
    it(`refuses ${what}, naming the source and ${field}`, () => {
      const def = freshdesk();
      change(def);
      const err = problemsOf(def, 'file connectors/freshdesk.json');
      expect(err.message).to.match(/^connector .*from file connectors\/freshdesk\.json is invalid: /);
      expect(err.message).to.include(`${field}: `);
      const problem = (err.details as Array<{ field: string; message: string }>).find((p) => p.field === field);
      expect(problem, JSON.stringify(err.details)).to.not.equal(undefined);
      expect(problem!.message).to.match(message);
    });
  }

  it('refuses more than 100 request templates', () => {
    const def = freshdesk();
    for (let i = 0; i < 100; i++) def.requests[`t${i}`] = { schema: { path: `/t/${i}` } };
    expect(problemsOf(def).details).to.deep.include({ field: '/requests', message: 'must NOT have more than 100 properties' });
  });

  const semanticCases: Array<[string, (d: Record<string, any>) => void, string, RegExp]> = [
    [
      'a poller URL naming an unknown resource',
      (d) => (d.events.poller.incidents.url = '/hubs/helpdesk/tickets'),
      '/events/poller/incidents/url',
      /resource "tickets", which connector "freshdesk" does not define/,
    ],
    [
      'a poller URL of another hub',
      (d) => (d.events.poller.incidents.url = '/hubs/crm/incidents'),
      '/events/poller/incidents/url',
      /hub "crm" is not this connector's hub "helpdesk"/,
    ],
    [
      'a where clause without mapping',
      (d) => (d.events.poller.incidents.url = "/hubs/helpdesk/incidents?where=created_at>'1'"),
      '/events/poller/incidents/url',
      /where clause "created_at > …" has no mapping in resource "incidents" \(add "created_at>"/,
    ],
    [
      'an unsupported date letter',
      (d) => (d.events.poller.incidents.url = "/hubs/helpdesk/incidents?where=updated_at>'${date:YYYY-MM-dd}'"),
      '/events/poller/incidents/url',
      /letter "Y" is not supported/,
    ],
    [
      'an unsupported letter in datesConfiguration',
      (d) => (d.events.poller.incidents.datesConfiguration.createdDateFormat = 'yyyy-ww'),
      '/events/poller/incidents/datesConfiguration/createdDateFormat',
      /letter "w"/,
    ],
    [
      'a register naming no template',
      (d) => delete d.requests.createWebhook,
      '/events/webhook/register',
      /request template "createWebhook", which is not defined/,
    ],
    [
      'a secret in the base URL',
      (d) => (d.baseUrl = 'https://x.example.com/<%= iparam.api_key %>'),
      '/baseUrl',
      /secret iparam "api_key" may not be substituted into a URL/,
    ],
    [
      'a secret in a poller URL',
      (d) => (d.events.poller.incidents.url = '/tickets?key=<%= iparam.api_key %>'),
      '/events/poller/incidents/url',
      /object "incidents": secret iparam "api_key"/,
    ],
    [
      'a secret in a resource path',
      (d) => (d.resources.contacts.path = '/<%= iparam.api_key %>/contacts'),
      '/resources/contacts/path',
      /secret iparam "api_key"/,
    ],
    [
      'a secret in a request path',
      (d) => (d.requests.deleteWebhook.schema.path = '/webhooks?k=<%= iparam.api_key %>'),
      '/requests/deleteWebhook/schema/path',
      /connector "freshdesk", template "deleteWebhook", field "schema.path": secret iparam "api_key"/,
    ],
    [
      'a request timeout beyond 10 s',
      (d) => (d.requests.deleteWebhook.options = { timeout: 30000 }),
      '/requests/deleteWebhook/options/timeout',
      /5000 to 10000 milliseconds/,
    ],
    ['an auth value with a bad tag', (d) => (d.auth.password = '<%= process.env.PASSWORD %>'), '/auth/password', /unsupported template tag/],
    [
      'a pagination field of another type',
      (d) => (d.resources.contacts.pagination.pageParam = 'page'),
      '/resources/contacts/pagination/pageParam',
      /is not a field of "link" pagination/,
    ],
    [
      'a malformed cursor JSONPath',
      (d) => (d.resources.contacts.pagination = { type: 'cursor', cursorPath: 'after', cursorParam: 'after' }),
      '/resources/contacts/pagination/cursorPath',
      /not a valid JSONPath/,
    ],
    ['webhook mode without a webhook section', (d) => delete d.events.webhook, '/events/webhook', /is required when "webhook" is a supported event mode/],
    ['a configuration key defined twice', (d) => d.configuration.push({ key: 'domain' }), '/configuration/3/key', /"domain" is defined twice/],
    [
      'a handshake field of the other type',
      (d) => (d.events.webhook.handshake.challengePath = '$.challenge'),
      '/events/webhook/handshake/challengePath',
      /is not a field of the "echo-query" handshake/,
    ],
    ['a missing base URL', (d) => delete d.baseUrl, '/baseUrl', /is required/],
    [
      'a webhookIdPattern that is no regular expression',
      (d) => (d.events.webhook.webhookIdPattern = '/webhook/(\\d+$'),
      '/events/webhook/webhookIdPattern',
      /Invalid regular expression/,
    ],
    [
      'saveFromResponse naming no configuration field',
      (d) => (d.events.webhook.saveFromResponse = { 'webhook.secret': '$.secret' }),
      '/events/webhook/saveFromResponse/webhook.secret',
      /not a configuration field/,
    ],
    [
      'a malformed event-log mapping',
      (d) => (d.events.poller.incidents.events = { objectId: 'data.id', eventType: '=UPDATED' }),
      '/events/poller/incidents/events',
      /objectId: "data.id" must be/,
    ],
    [
      'an objectType pattern that is no regular expression',
      (d) => (d.events.webhook.events.objectType = { from: '$.type', pattern: '([a-z' }),
      '/events/webhook/events',
      /objectType.pattern/,
    ],
    [
      'an auth alternative without when before another',
      (d) => (d.auth = [{ ...d.auth }, { when: 'domain', type: 'none' }]),
      '/auth/0/when',
      /the ones after it would never apply/,
    ],
    [
      'an auth alternative whose when names no configuration field',
      (d) => (d.auth = [{ when: 'api.token', ...d.auth }]),
      '/auth/0/when',
      /names "api.token", which is not a configuration field/,
    ],
    [
      'an alternative with a bad tag',
      (d) => (d.auth = [{ when: 'domain', type: 'bearer', token: '<% code %>' }, d.auth]),
      '/auth/0/token',
      /unsupported template syntax/,
    ],
    [
      'a baseUrlLookup with a malformed JSONPath',
      (d) =>
        (d.auth = {
          type: 'oauth2',
          authorizationUrl: 'https://x.example.com/a',
          tokenUrl: 'https://x.example.com/t',
          baseUrlLookup: { url: 'https://x.example.com/r', valuePath: 'id', baseUrl: 'https://x.example.com/<%= context.value %>' },
        }),
      '/auth/baseUrlLookup/valuePath',
      /not a valid JSONPath/,
    ],
    [
      'an unsupported letter in a where format',
      (d) => (d.resources.incidents.where['updated_at>'].format = 'yyyy-DDD'),
      '/resources/incidents/where/updated_at>/format',
      /letter "D"/,
    ],
  ];
  for (const [what, change, field, message] of semanticCases) {
    it(`refuses ${what} at ${field}`, () => {
      const def = freshdesk();
      change(def);
      const err = problemsOf(def);
      expect(err.message).to.match(/^connector "freshdesk" from request body is invalid: /);
      const problem = (err.details as Array<{ field: string; message: string }>).find((p) => p.field === field);
      expect(problem, JSON.stringify(err.details)).to.not.equal(undefined);
      expect(problem!.message).to.match(message);
    });
  }

  it('reports every problem in details and the first in the message', () => {
    const def = freshdesk();
    def.baseUrl = 'https://<%= iparam.api_key %>.example.com';
    def.events.poller.incidents.url = '/hubs/helpdesk/nothing';
    const err = problemsOf(def);
    expect(err.details, JSON.stringify(err.details)).to.have.length(2);
    expect(err.message).to.match(/\/baseUrl: secret iparam "api_key" .* \(and 1 more problem, see details\)$/);
  });
});

describe('connector registry', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pollgate-connectors-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads a directory; require, has, list and summary', async () => {
    await writeFile(join(dir, 'freshdesk.json'), JSON.stringify(freshdesk()));
    await writeFile(join(dir, 'notes.txt'), 'not a connector');
    const registry = await ConnectorRegistry.loadDirectory(dir);
    expect(registry.list().map((d) => d.key)).to.deep.equal(['freshdesk']);
    expect(registry.has('freshdesk')).to.equal(true);
    expect(registry.require('freshdesk').name).to.equal('Freshdesk');
    expect(registry.summary(registry.require('freshdesk'))).to.deep.equal({
      key: 'freshdesk',
      name: 'Freshdesk',
      hub: 'helpdesk',
      eventModes: ['polling', 'webhook'],
      objectTypes: ['incidents', 'contacts'],
      configuration: [
        { key: 'domain', required: true, secret: false },
        { key: 'api_key', required: true, secret: true },
        { key: 'webhook_secret', required: false, secret: true },
      ],
      bundled: true,
    });
    expect(() => registry.require('zendesk'))
      .to.throw(ValidationError, 'unknown connector "zendesk"')
      .with.property('statusCode', 400);
  });

  it('refuses a directory with an invalid file, naming the file and the field', async () => {
    const bad = freshdesk();
    bad.key = 'bad';
    bad.events.poller.incidents.url = "/hubs/helpdesk/incidents?where=updated_at>'${date:yyyy-MM-dd G}'";
    await writeFile(join(dir, 'a-good.json'), JSON.stringify(freshdesk()));
    await writeFile(join(dir, 'bad.json'), JSON.stringify(bad));
    const err = await ConnectorRegistry.loadDirectory(dir).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(DefinitionError);
    expect((err as Error).message).to.include(`connector "bad" from file ${join(dir, 'bad.json')} is invalid: /events/poller/incidents/url: `);
    expect((err as Error).message).to.include('the letter "G" is not supported');
  });

  it('refuses a file that is not JSON, and a key defined by two files', async () => {
    await writeFile(join(dir, 'broken.json'), '{"key": ');
    expect(
      await ConnectorRegistry.loadDirectory(dir).then(
        () => '',
        (e: Error) => e.message,
      ),
    ).to.match(/broken\.json is not valid JSON/);
    await rm(join(dir, 'broken.json'));
    await writeFile(join(dir, 'one.json'), JSON.stringify(freshdesk()));
    await writeFile(join(dir, 'two.json'), JSON.stringify(freshdesk()));
    expect(
      await ConnectorRegistry.loadDirectory(dir).then(
        () => '',
        (e: Error) => e.message,
      ),
    ).to.match(/two\.json: key "freshdesk" is already defined by one\.json/);
  });

  it('registers custom connectors, refuses to replace a bundled one, and re-adds stored ones', async () => {
    await writeFile(join(dir, 'freshdesk.json'), JSON.stringify(freshdesk()));
    const registry = await ConnectorRegistry.loadDirectory(dir);
    expect(() => registry.register(freshdesk(), { source: 'request body' })).to.throw(ConflictError, /bundled/);
    const custom = { ...freshdesk(), key: 'desk2', name: 'Desk 2' };
    expect(registry.register(custom, { source: 'request body' }).key).to.equal('desk2');
    expect(registry.summary(registry.require('desk2')).bundled).to.equal(false);
    expect(() => registry.register({ key: 'x' }, { source: 'request body' })).to.throw(
      DefinitionError,
      /connector "x" from request body is invalid: \/name: is required/,
    );
    // A stored connector whose key a bundled file now uses: the file wins, no conflict at start.
    expect(registry.add({ ...freshdesk(), name: 'Stored' }).name).to.equal('Freshdesk');
    expect(registry.add({ ...custom, name: 'Desk 2b' }).name).to.equal('Desk 2b');
  });

  it('starts empty from a directory that does not exist', async () => {
    expect((await ConnectorRegistry.loadDirectory(join(dir, 'missing'))).list()).to.deep.equal([]);
  });
});

describe('CEQL where', () => {
  it('parses clauses joined by and, in any case', () => {
    expect(parseCeqlWhere("updated_at>'2026-01-01' AND status = 2 and archived=false And name != 'O''Brien and co'")).to.deep.equal([
      { field: 'updated_at', op: '>', value: '2026-01-01' },
      { field: 'status', op: '=', value: '2' },
      { field: 'archived', op: '=', value: 'false' },
      { field: 'name', op: '!=', value: "O'Brien and co" },
    ]);
    expect(parseCeqlWhere('a>=1 and b<=-2.5 and c<TRUE and d.e>0')).to.deep.equal([
      { field: 'a', op: '>=', value: '1' },
      { field: 'b', op: '<=', value: '-2.5' },
      { field: 'c', op: '<', value: 'true' },
      { field: 'd.e', op: '>', value: '0' },
    ]);
  });

  it('keeps date templates, quotes and all, inside values', () => {
    expect(parseCeqlWhere("updated_at>='${date:yyyy-MM-dd'T'HH:mm:ss'Z'}' and created_at<'${epoch:s}'")).to.deep.equal([
      { field: 'updated_at', op: '>=', value: "${date:yyyy-MM-dd'T'HH:mm:ss'Z'}" },
      { field: 'created_at', op: '<', value: '${epoch:s}' },
    ]);
  });

  for (const bad of ['updated_at > bare', "updated_at ~ '1'", "a='1' or b='2'", "a='unterminated", '', "a='1' and"]) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      expect(() => parseCeqlWhere(bad)).to.throw(DefinitionError, /is not of the form field op 'value'/);
    });
  }
});

describe('poller object resolution', () => {
  const def = () => validateConnector(freshdesk(), 'test') as ConnectorDefinition;

  it('resolves a /hubs URL through the resource and its where map', () => {
    const r = resolvePollerObject(def(), 'incidents', {
      url: "/hubs/helpdesk/incidents?where=updated_at>'${date:yyyy-MM-dd'T'HH:mm:ssXXX}' and status='open'&pageSize=200",
      idField: 'id',
    });
    expect(r).to.deep.equal({
      method: 'GET',
      path: '/tickets',
      query: { updated_since: "${date:yyyy-MM-dd'T'HH:mm:ssXXX}", status: 'open' },
      headers: undefined,
      body: undefined,
      idField: 'id',
      recordsPath: '$[*]',
      pagination: { type: 'page', pageParam: 'page', sizeParam: 'per_page', size: 100 },
      deletes: false,
      datesConfiguration: undefined,
    });
  });

  it("lets the poller object's own settings win over the resource's", () => {
    const r = resolvePollerObject(def(), 'incidents', {
      url: '/hubs/helpdesk/incidents',
      idField: 'ref.id',
      method: 'post',
      body: { since: '${epoch:ms}' },
      headers: { 'X-A': '1' },
      recordsPath: '$.results',
      pagination: { type: 'cursor', cursorPath: '$.next', cursorParam: 'after' },
      deletes: true,
      datesConfiguration: { updatedDateField: 'u' },
    });
    expect(r).to.include({ method: 'POST', path: '/tickets', idField: 'ref.id', recordsPath: '$.results', deletes: true });
    expect(r.query).to.deep.equal({});
    expect(r.body).to.deep.equal({ since: '${epoch:ms}' });
    expect(r.pagination).to.deep.equal({ type: 'cursor', cursorPath: '$.next', cursorParam: 'after' });
    expect(r.datesConfiguration).to.deep.equal({ updatedDateField: 'u' });
  });

  it('sends any other URL as a provider path with its own query, settings from the resource of the same name', () => {
    const r = resolvePollerObject(def(), 'contacts', { url: '/v2/contacts?since=${gmtDate:yyyy-MM-dd}&tz=+01:00&flag', idField: 'id' });
    expect(r.path).to.equal('/v2/contacts');
    expect(r.query).to.deep.equal({ since: '${gmtDate:yyyy-MM-dd}', tz: '+01:00', flag: '' });
    expect(r).to.include({ deletes: true });
    expect(r.pagination).to.deep.equal({ type: 'link' });
    expect(resolvePollerObject(def(), 'agents', { url: '/agents', idField: 'id' })).to.include({ path: '/agents', deletes: false, recordsPath: undefined });
  });

  it("re-expresses a date value with the where mapping's format", () => {
    const d = freshdesk();
    d.resources.incidents.where = { 'updated_at>': { param: 'since', format: 'epoch:s' }, 'created_at>': { param: 'created', format: 'yyyy/MM/dd' } };
    const connector = validateConnector(d, 'test');
    const r = resolvePollerObject(connector, 'incidents', {
      url: "/hubs/helpdesk/incidents?where=updated_at>'${date:yyyy-MM-dd}' and created_at>'2026-11-24T09:59:00Z'",
      idField: 'id',
    });
    expect(r.query).to.deep.equal({ since: '${epoch:s}', created: '2026/11/24' });
    const r2 = resolvePollerObject(connector, 'incidents', { url: "/hubs/helpdesk/incidents?where=created_at>'${date:yyyy-MM-dd'T'HH:mm}'", idField: 'id' });
    expect(r2.query).to.deep.equal({ created: '${date:yyyy/MM/dd}' });
    expect(() => resolvePollerObject(connector, 'incidents', { url: "/hubs/helpdesk/incidents?where=created_at>'soon'", idField: 'id' })).to.throw(
      DefinitionError,
      /"soon" is not a date/,
    );
  });

  it('refuses a missing url or idField, naming the object', () => {
    expect(() => resolvePollerObject(def(), 'incidents', { idField: 'id' })).to.throw(DefinitionError, 'object "incidents": url is required');
    expect(() => resolvePollerObject(def(), 'incidents', { url: '/x' })).to.throw(DefinitionError, 'object "incidents": idField is required');
  });
});
