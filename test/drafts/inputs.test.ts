import { expect } from 'chai';
import { validateConnector } from '../../src/connector-sections.js';
import { MAX_DESCRIPTION_BYTES, parseDescriptionText, readDescription } from '../../src/drafts/description.js';
import { draftConnector, objectNames } from '../../src/drafts/draft.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { Receiver } from '../providers/receiver.js';

type Json = Record<string, unknown>;
const draftOf = async (doc: unknown) => draftConnector(await readDescription(doc), validateConnector);

/** A Swagger 2.0 description: host and basePath, an OAuth 2.0 access-code flow, page numbers, a date filter. */
const swagger = {
  swagger: '2.0',
  info: { title: 'Legacy Desk API', version: '2' },
  host: 'api.legacy.example',
  basePath: '/api/v2',
  schemes: ['https'],
  securityDefinitions: {
    oauth: {
      type: 'oauth2',
      flow: 'accessCode',
      authorizationUrl: 'https://legacy.example/oauth/authorize',
      tokenUrl: 'https://legacy.example/oauth/token',
      scopes: { read: 'read' },
    },
  },
  security: [{ oauth: ['read'] }],
  paths: {
    '/cases': {
      get: {
        parameters: [
          { name: 'modified_since', in: 'query', type: 'integer', description: 'Unix time in seconds' },
          { name: 'page', in: 'query', type: 'integer' },
          { name: 'per_page', in: 'query', type: 'integer', maximum: 100 },
        ],
        responses: { 200: { description: 'cases', schema: { $ref: '#/definitions/CaseList' } } },
      },
    },
  },
  definitions: {
    Case: { type: 'object', properties: { id: { type: 'integer' }, updated_at: { type: 'string', format: 'date-time' } } },
    CaseList: { type: 'object', properties: { entries: { type: 'array', items: { $ref: '#/definitions/Case' } }, total_entries: { type: 'integer' } } },
  },
};

describe('connector drafts: descriptions of every kind', () => {
  it('reads Swagger 2.0: base URL from host and basePath, OAuth 2.0 access code with its scopes, epoch filter, page numbers', async () => {
    const { connector, report } = await draftOf(swagger);
    expect(connector).to.include({ key: 'legacy-desk', baseUrl: 'https://api.legacy.example/api/v2' });
    expect(connector.auth).to.deep.equal({
      type: 'oauth2',
      authorizationUrl: 'https://legacy.example/oauth/authorize',
      tokenUrl: 'https://legacy.example/oauth/token',
      scopes: ['read'],
    });
    expect((connector.events as { poller: Json }).poller.cases).to.deep.equal({
      url: '/cases?modified_since=${epoch:s}',
      idField: 'id',
      recordsPath: '$.entries[*]',
      pagination: { type: 'page', pageParam: 'page', sizeParam: 'per_page', size: 100 },
      datesConfiguration: { updatedDateField: 'updated_at' },
    });
    expect(report.objects[0].findings.find((f) => f.what === 'recordsPath')).to.deep.include({
      from: '#/definitions/CaseList/properties/entries',
      confidence: 'high',
    });
  });

  it('turns server variables and path parameters into configuration keys', async () => {
    const { connector } = await draftOf({
      openapi: '3.0.3',
      info: { title: 'Widgets', version: '1' },
      servers: [{ url: 'https://{subdomain}.widgets.example/api', variables: { subdomain: { default: 'acme' } } }],
      paths: {
        '/shops/{shop}/widgets': {
          get: {
            responses: {
              200: {
                description: 'ok',
                content: { 'application/json': { schema: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' } } } } } },
              },
            },
          },
        },
      },
    });
    expect(connector.baseUrl).to.equal('https://<%= iparam.widgets.subdomain %>.widgets.example/api');
    expect((connector.configuration as Json[]).map((c) => c.key)).to.deep.equal(['widgets.subdomain', 'widgets.shop', 'base.url']);
    expect((connector.events as { poller: Record<string, Json> }).poller.widgets).to.include({
      url: '/shops/<%= iparam.widgets.shop %>/widgets',
      deletes: true,
    });
  });

  it('names objects by their last segment, widened where paths share it', () => {
    const names = objectNames(['/issues', '/user/issues', '/repos/{owner}/{repo}/issues', '/orgs/{org}/issues', '/repos/{o}/{r}/issues/comments']);
    expect([...names.values()]).to.deep.equal(['issues', 'user_issues', 'repos_issues', 'orgs_issues', 'comments']);
  });

  it('refuses what is not a description, with the reason', async () => {
    const problems: Array<[unknown, RegExp]> = [
      [[1, 2], /not an object/],
      [{ info: {} }, /neither an "openapi" nor a "swagger" field/],
      [{ openapi: '4.0.0', paths: {} }, /unsupported description version "4\.0\.0"/],
      [{ openapi: '3.1.0', info: {} }, /no "paths"/],
      [
        { openapi: '3.0.0', info: { title: 'x', version: '1' }, paths: { '/a': { get: { responses: { 200: { $ref: '#/components/responses/Missing' } } } } } },
        /cannot be resolved.*Missing/,
      ],
    ];
    for (const [doc, message] of problems) {
      const err = await readDescription(doc).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message, JSON.stringify(doc)).to.match(message);
    }
    expect(() =>
      parseDescriptionText(
        'a: &a [x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\ng: [*d, *d, *d, *d, *d, *d, *d, *d, *d]',
      ),
    ).to.throw(/neither JSON nor YAML/);
  });
});

describe('POST /connectors/draft', () => {
  let t: TestGateway;
  let receiver: Receiver;

  beforeEach(async () => {
    t = await startGateway();
    receiver = await Receiver.start();
  });

  afterEach(async () => {
    await t.close();
    await receiver.close();
  });

  const post = async (body: string | Buffer, type = 'application/json', query = '') => {
    const res = await t.api.post(`connectors/draft${query}`, { body, headers: { 'content-type': type } });
    return { status: res.statusCode, body: res.body as unknown as { code: string; message: string; details: Json[] } };
  };

  it('answers 4xx with a clear code for bad input, fetches no external $ref and stores nothing', async () => {
    const before = ((await t.api.get('elements')).body as unknown as unknown[]).length;
    expect(await post('{"openapi": ')).to.deep.include({ status: 400 });
    expect((await post('{"openapi": ')).body.message).to.match(/neither JSON nor YAML/);
    expect((await post('<html></html>', 'text/html')).status).to.equal(415);
    expect((await post(JSON.stringify({ info: {} }))).body).to.include({ code: 'INVALID_DESCRIPTION' });
    expect((await post(JSON.stringify(swagger), 'application/json', '?key=Bad%20Key')).status).to.equal(400);
    expect((await post('', 'application/json')).status).to.equal(400);

    const big = Buffer.alloc(40 * 1024 * 1024, 0x20);
    const huge = await post(big);
    expect(huge.status).to.equal(413);
    expect(huge.body.message).to.contain(String(MAX_DESCRIPTION_BYTES));

    // An external reference is not followed: the receiver it names hears nothing, and the
    // operation whose answer it was is left out (nothing else to draft: 422 with the reasons).
    const external = {
      openapi: '3.0.0',
      info: { title: 'x', version: '1' },
      paths: {
        '/things': {
          get: { responses: { 200: { description: 'ok', content: { 'application/json': { schema: { $ref: `${receiver.url}/schemas.json#/Thing` } } } } } },
        },
      },
    };
    const refused = await post(JSON.stringify(external));
    expect(refused.status).to.equal(422);
    expect(refused.body.code).to.equal('NOTHING_TO_DRAFT');
    expect(JSON.stringify(refused.body.details)).to.match(/holds no array of records/);
    expect(receiver.received).to.have.length(0);

    expect(((await t.api.get('elements')).body as unknown as unknown[]).length).to.equal(before);
  });

  it('drafts only the objects asked for, and names an unknown one', async () => {
    const res = await post(JSON.stringify(swagger), 'application/json', '?objects=cases,/nope&key=legacy');
    expect(res.status).to.equal(200);
    const body = res.body as unknown as { connector: Json; report: { todo: string[] } };
    expect(body.connector.key).to.equal('legacy');
    expect(body.report.todo).to.deep.equal(['"/nope" is neither an object name nor a collection path of the description']);
  });
});
