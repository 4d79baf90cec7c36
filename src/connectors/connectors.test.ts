import { expect } from 'chai';
import { DefinitionError } from '../errors.js';
import { connectorSections, validateConnector } from '../connector-sections.js';
import type { ConnectorSection } from './section.js';
import { validateConnector as validateWithSections } from './validate.js';
import { freshdesk } from '../../test/helpers/connectors.js';

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
  it('accepts the example connector of docs/connectors.md', () => {
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
      'an offset valueTemplate without {offset}',
      (d) => (d.resources.incidents.pagination = { type: 'offset', offsetParam: 'q', valueTemplate: 'select all' }),
      '/resources/incidents/pagination/valueTemplate',
      /must match pattern/,
    ],
    [
      'an unknown field in a change window',
      (d) => (d.events.poller.incidents.window = { maxRecords: 10, maxSecs: 5 }),
      '/events/poller/incidents/window/maxSecs',
      /is not a known field/,
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
    [
      'an expiry with neither expiresAtPath nor seconds',
      (d) => {
        d.events.webhook.registrations = [{ name: 'app', register: 'createWebhook', expiry: { refresh: 'createWebhook' } }];
        delete d.events.webhook.register;
        delete d.events.webhook.deregister;
        delete d.events.webhook.webhookIdPath;
      },
      '/events/webhook/registrations/0/expiry/expiresAtPath',
      /is required/,
    ],
    [
      'an expiry whose refresh template does not exist',
      (d) => {
        d.events.webhook.registrations = [
          { name: 'app', register: 'createWebhook', when: 'webhook_secret', expiry: { refresh: 'refreshHook', seconds: 86400 } },
        ];
        delete d.events.webhook.register;
        delete d.events.webhook.deregister;
        delete d.events.webhook.webhookIdPath;
      },
      '/events/webhook/registrations/0/expiry/refresh',
      /names request template "refreshHook", which is not defined under requests/,
    ],
    [
      'signatures beside signature',
      (d) => (d.events.webhook.signatures = [{ when: 'webhook_secret', scheme: 'jwt', secret: '<%= iparam.webhook_secret %>' }]),
      '/events/webhook/signatures',
      /cannot be combined with signature/,
    ],
    [
      'an hmac-parts signature without parts',
      (d) => (d.events.webhook.signature = { scheme: 'hmac-parts', header: 'X-Sig', secret: '<%= iparam.webhook_secret %>' }),
      '/events/webhook/signature/parts',
      /is required/,
    ],
    [
      'a signature template with an unknown placeholder',
      (d) => (d.events.webhook.signature.signedContent = '{nonce}.{body}'),
      '/events/webhook/signature',
      /signedContent uses \{nonce\}; the placeholders are \{body\}, \{timestamp\}, \{method\}, \{url\} and \{header:<Name>\}/,
    ],
    [
      'a delivery id both in a header and in the body',
      (d) => Object.assign(d.events.webhook, { deliveryIdHeader: 'X-Delivery', deliveryIdPath: '$.id' }),
      '/events/webhook/deliveryIdPath',
      /cannot be combined with deliveryIdHeader/,
    ],
    ['a malformed deliveryIdPath', (d) => (d.events.webhook.deliveryIdPath = '$[id'), '/events/webhook/deliveryIdPath', /./],
    [
      'a lookback longer than a week',
      (d) => (d.events.poller.incidents.lookbackSeconds = 700_000),
      '/events/poller/incidents/lookbackSeconds',
      /must be <= 604800/,
    ],
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
      (d) => (d.resources.contacts.pagination = { type: 'cursor', cursorPath: '$.after[', cursorParam: 'after' }),
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
      'a thin-notification fetch naming no request template',
      (d) => (d.events.webhook.events.fetch = { request: { incidents: 'getIncident' }, context: { id: '$.id' } }),
      '/events/webhook/events/fetch/request/incidents',
      /names request template "getIncident", which is not defined under requests/,
    ],
    [
      'a thin-notification fetch without context',
      (d) => (d.events.webhook.events.fetch = { request: 'listWebhooks' }),
      '/events/webhook/events/fetch/context',
      /is required/,
    ],
    [
      'an itemSecret with a malformed path',
      (d) => (d.events.webhook.itemSecret = { path: '$.clientState[', secret: '<%= iparam.webhook_secret %>' }),
      '/events/webhook/itemSecret/path',
      /not a valid JSONPath/,
    ],
    [
      'a lifecycle action that does not exist',
      (d) => (d.events.webhook.lifecycle = { from: '$.lifecycleEvent', actions: { missed: 'resync' } }),
      '/events/webhook/lifecycle/actions/missed',
      /must be one of "renew", "recreate", "reconcile"/,
    ],
    [
      'a lifecycle renew without a registration that expires',
      (d) => (d.events.webhook.lifecycle = { from: '$.lifecycleEvent', actions: { reauthorizationRequired: 'renew' } }),
      '/events/webhook/lifecycle/actions',
      /renew and recreate need a registration with expiry/,
    ],
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
      'OAuth redirect parameters kept under no configuration field',
      (d) =>
        (d.auth = {
          type: 'oauth2',
          authorizationUrl: 'https://p.example/authorize',
          tokenUrl: 'https://p.example/token',
          callbackParams: { realmId: 'company.id' },
        }),
      '/auth/callbackParams/realmId',
      /names "company.id", which is not a configuration field/,
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
          baseUrlLookup: { url: 'https://x.example.com/r', valuePath: '$.id[', baseUrl: 'https://x.example.com/<%= context.value %>' },
        }),
      '/auth/baseUrlLookup/valuePath',
      /not a valid JSONPath/,
    ],
    [
      'a lookup naming no request template',
      (d) => (d.events.lookups = [{ request: 'whoAmI', save: { 'event.poller.timezone': '$.timeZone' } }]),
      '/events/lookups/0/request',
      /names request template "whoAmI", which is not defined/,
    ],
    [
      'a lookup saving under a key that is neither a configuration field nor the poller time zone',
      (d) => (d.events.lookups = [{ request: 'createWebhook', save: { 'event.poller.refresh_interval': '$.n' } }]),
      '/events/lookups/0/save/event.poller.refresh_interval',
      /neither a configuration field of this connector nor event.poller.timezone/,
    ],
    [
      "a deleted listing's window with a malformed coveredPath",
      (d) => (d.events.poller.incidents.deleted = { url: '/tickets?filter=deleted', window: { maxSeconds: 3600, coveredPath: '$.latest]' } }),
      '/events/poller/incidents/deleted/window/coveredPath',
      /not a valid JSONPath/,
    ],
    [
      "a change feed's window.maxSeconds without a baseline listing",
      (d) => (d.events.poller.incidents.window = { maxSeconds: 86_400 }),
      '/events/poller/incidents/window/maxSeconds',
      /needs a baseline listing/,
    ],
    [
      'a baseline listing without window.maxSeconds',
      (d) => (d.events.poller.incidents.baseline = { url: '/tickets' }),
      '/events/poller/incidents/baseline',
      /needs window.maxSeconds/,
    ],
    [
      "a baseline listing's malformed recordsPath",
      (d) => {
        d.events.poller.incidents.window = { maxSeconds: 86_400 };
        d.events.poller.incidents.baseline = { url: '/tickets', recordsPath: '$.data[' };
      },
      '/events/poller/incidents/baseline/recordsPath',
      /not a valid JSONPath/,
    ],
    [
      'an offset valueTemplate on another pagination type',
      (d) => (d.resources.incidents.pagination.valueTemplate = 'x {offset}'),
      '/resources/incidents/pagination/valueTemplate',
      /is not a field of "page" pagination/,
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

  it('checks the parts features own through the sections it is given, and only those', () => {
    const def = freshdesk();
    def.events.webhook.events.objectId = 'id'; // a mapping value without its "$" prefix
    expect(() => validateWithSections(def, 'request body', connectorSections)).to.throw(DefinitionError, /\/events\/webhook\/events: /);
    const others = connectorSections.filter((section) => section.name !== 'events.webhook');
    expect(validateWithSections(def, 'request body', others).key).to.equal('freshdesk');
    const extra: ConnectorSection = { name: 'test', validate: (_def, report) => report.add('/name', 'is checked by the extra section') };
    expect(() => validateWithSections(freshdesk(), 'request body', [...connectorSections, extra])).to.throw(
      DefinitionError,
      /\/name: is checked by the extra section/,
    );
  });

  it('takes a dotted path or a JSONPath wherever it takes a path (lib/json-path.ts)', () => {
    const def = freshdesk();
    def.resources.contacts = {
      path: '/contacts',
      idField: 'id',
      recordsPath: 'data',
      pagination: { type: 'cursor', cursorPath: 'meta.next', cursorParam: '$.page.after', cursorIn: 'body' },
    };
    def.events.poller.incidents.idField = '$.id';
    def.events.poller.incidents.datesConfiguration = { updatedDateField: '$.meta.updated_at', createdDateField: 'meta.created_at' };
    def.events.webhook.events.itemsPath = 'events';
    expect(validateConnector(def, 'request body').key).to.equal('freshdesk');
  });

  it('refuses malformed dotted paths and a body cursorParam that names no plain field', () => {
    const def = freshdesk();
    def.resources.contacts = {
      path: '/contacts',
      idField: 'id',
      pagination: { type: 'cursor', cursorPath: '$.next', cursorParam: '$.page[*]', cursorIn: 'body' },
    };
    def.events.poller.incidents.idField = 'data..id';
    const details = problemsOf(def).details as Array<{ field: string; message: string }>;
    expect(details).to.deep.include({
      field: '/resources/contacts/pagination/cursorParam',
      message: 'must name a field of the request body: a dotted path or a JSONPath of plain names ($.pagination.starting_after)',
    });
    const idField = details.find((p) => p.field === '/events/poller/incidents/idField');
    expect(idField?.message).to.match(/"data\.\.id" is not a valid path: a dotted path has an empty step/);
  });

  it('reports every problem in details and the first in the message', () => {
    const def = freshdesk();
    def.baseUrl = 'https://<%= iparam.api_key %>.example.com';
    def.events.poller.incidents.url = '/hubs/helpdesk/nothing';
    const err = problemsOf(def);
    expect(err.details, JSON.stringify(err.details)).to.have.length(2);
    expect(err.message).to.match(/\/baseUrl: secret iparam "api_key" .* \(and 1 more problem, see details\)$/);
  });
});
