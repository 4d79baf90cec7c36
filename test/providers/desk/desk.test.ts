import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { oauthUrl } from '../../../src/auth/settings.js';
import { docInstanceJson, eventTriples, quietPoll, startCatalogGateway, type CatalogGateway } from '../catalog.js';
import { pollNow } from '../../poller/helpers.js';
import { DeskEmulator } from './emulator.js';

const CONSUMER = { key: 'desk-consumer-key', secret: 'desk-consumer-secret' };
const SECOND = 1000;
const desk = JSON.parse(readFileSync(new URL('../../../connectors/desk.json', import.meta.url), 'utf8')) as { baseUrl: string };

/** The Desk instance JSON of Cloud Elements' documentation, its placeholders filled in. */
function cloudElementsInstance(providerData: Record<string, string>): Record<string, unknown> {
  const fill: Record<string, string> = {
    '<OAUTH_TOKEN_RETURNED_IN_OAUTH_EXCHANGE>': providerData.oauth_token,
    '<OAUTH_VERIFIER_RETURNED_IN_OAUTH_EXCHANGE>': providerData.oauth_verifier,
    '<SECRET_RETURNED_IN_OAUTH_EXCHANGE>': providerData.secret,
    '<INSERT_DESK_API_KEY>': CONSUMER.key,
    '<INSERT_DESK_API_SECRET>': CONSUMER.secret,
    '<INSERT_CALLBACK_URL>': 'https://app.example.com/desk/callback',
    '<INSERT_YOUR_APPS_CALLBACK_URL>': 'https://app.example.com/pollgate-events',
    '<INSERT_TAGS>': 'support',
    '<INSERT_INSTANCE_NAME>': 'Desk from the Cloud Elements instance JSON',
  };
  const text = readFileSync(new URL('./cloud-elements-instance.json', import.meta.url), 'utf8').replace(/<[A-Z_]+>/g, (p) => fill[p] ?? p);
  return JSON.parse(text) as Record<string, unknown>;
}

describe('connector desk (OAuth 1.0a, against the Desk emulator)', () => {
  let t: CatalogGateway;
  let dk: DeskEmulator;

  beforeEach(async () => {
    t = await startCatalogGateway();
    dk = await DeskEmulator.start(CONSUMER.key, CONSUMER.secret);
    dk.provider.now = () => t.clock.now();
    dk.cases.seed(3, (i) => ({ subject: `old ${i}`, status: 'open' }), t.clock.now() - 86_400_000);
  });

  afterEach(async () => {
    await t.close();
    await dk.close();
  });

  async function createFromSeed(): Promise<number> {
    const json = cloudElementsInstance(dk.authorizedRequestToken());
    (json.configuration as Record<string, unknown>)['base.url'] = dk.baseUrl;
    const res = await t.api.post('instances', { json });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    return (res.body as unknown as { id: number }).id;
  }

  it("Cloud Elements' Desk instance JSON (cloud-elements-instance.json) with only base.url added: the access token is exchanged with a signed request, polls are signed with it", async () => {
    const id = await createFromSeed();
    expect(dk.accessTokens.size).to.equal(1);
    expect(dk.signatureChecks.filter((c) => c.path === '/oauth/access_token')).to.deep.equal([
      { path: '/oauth/access_token', ok: true, token: dk.signatureChecks[0].token },
    ]);
    t.clock.advance(30 * SECOND);
    expect(await pollNow(t, id)).to.deep.equal(quietPoll('incidents', 'contacts'));
    const polls = dk.signatureChecks.filter((c) => c.path.startsWith('/api/v2/'));
    expect(polls).to.have.length(2);
    expect(polls.every((c) => c.ok && dk.accessTokens.has(c.token!))).to.equal(true);
    const search = dk.provider.requests.find((r) => r.path === '/api/v2/cases/search')!;
    expect(search.query).to.deep.equal({
      sort_field: 'updated_at',
      sort_direction: 'asc',
      per_page: '100',
      since_updated_at: String((t.clock.now() - 30 * SECOND) / 1000),
    });
  });

  it("the doc page's instance JSON, its placeholders filled and base.url added, creates a working instance", async () => {
    const grant = dk.authorizedRequestToken();
    const fill: Record<string, string> = {
      '<oauth_token from the callback>': grant.oauth_token,
      '<oauth_verifier from the callback>': grant.oauth_verifier,
      "<the request token's secret from step 1>": grant.secret,
      '<consumer key>': CONSUMER.key,
      '<consumer secret>': CONSUMER.secret,
    };
    const json = JSON.parse(JSON.stringify(docInstanceJson('desk')).replace(/<[^<>"]+>/g, (p) => fill[p] ?? p)) as Record<string, Record<string, unknown>>;
    json.configuration['base.url'] = dk.baseUrl;
    const res = await t.api.post('instances', { json });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    t.clock.advance(SECOND);
    dk.cases.upsert({ subject: 'fresh' });
    t.clock.advance(SECOND);
    expect((await pollNow(t, (res.body as unknown as { id: number }).id)).incidents).to.include({ created: 1 });
  });

  it("Cloud Elements' Desk instance JSON as it is (neither desk.site nor base.url) is a 400 naming desk.site, before any call", async () => {
    const res = await t.api.post('instances', { json: cloudElementsInstance(dk.authorizedRequestToken()) });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(400);
    expect(res.body).to.deep.include({ code: 'VALIDATION_ERROR' });
    expect((res.body as unknown as { details: unknown[] }).details).to.deep.equal([
      { field: 'configuration.desk.site', message: `is required: the provider's address ${desk.baseUrl} is built from it (or give base.url)` },
    ]);
    expect(dk.signatureChecks).to.deep.equal([]);
    expect(((await t.api.get('instances')).body as unknown as unknown[]).length).to.equal(0);
  });

  it('desk.site alone puts the API and the OAuth endpoints on <site>.desk.com', () => {
    const configuration = { 'desk.site': 'acme' };
    expect(oauthUrl('/oauth/access_token', configuration, desk.baseUrl)).to.equal('https://acme.desk.com/oauth/access_token');
    expect(oauthUrl('/oauth/request_token', { ...configuration, 'base.url': 'http://127.0.0.1:9/api/v2' }, desk.baseUrl)).to.equal(
      'http://127.0.0.1:9/oauth/request_token',
    );
  });

  it('a refused exchange (wrong verifier) answers 400 and creates nothing', async () => {
    const json = cloudElementsInstance({ ...dk.authorizedRequestToken(), oauth_verifier: 'guessed' });
    (json.configuration as Record<string, unknown>)['base.url'] = dk.baseUrl;
    const res = await t.api.post('instances', { json });
    expect(res.statusCode).to.equal(400);
    expect((res.body as unknown as { code: string }).code).to.equal('OAUTH_EXCHANGE_FAILED');
    expect(((await t.api.get('instances')).body as unknown as unknown[]).length).to.equal(0);
  });

  it('creates and updates across HAL pages arrive once each; 429 waits and completes', async () => {
    const id = await createFromSeed();
    t.clock.advance(SECOND);
    for (let i = 0; i < 150; i++) {
      dk.cases.upsert({ subject: `new ${i}`, status: 'new' });
      t.clock.advance(SECOND);
    }
    dk.cases.update(2, { status: 'resolved' });
    dk.customers.upsert({ first_name: 'Ada' });
    t.clock.advance(SECOND);
    dk.throttleNext(1);
    const first = await pollNow(t, id);
    expect(first.incidents).to.include({ fetched: 151, created: 150, updated: 1 });
    expect(first.contacts).to.include({ created: 1 });
    expect(t.sleeps).to.include(3000);
    expect(dk.provider.requests.filter((r) => r.path === '/api/v2/cases/search' && r.query.page === '2')).to.have.length(1);
    expect(dk.signatureChecks.filter((c) => c.path.startsWith('/api/v2/')).every((c) => c.ok)).to.equal(true);

    t.clock.advance(5 * SECOND);
    dk.cases.update(10, { status: 'pending' });
    t.clock.advance(SECOND);
    expect((await pollNow(t, id)).incidents).to.include({ created: 0, updated: 1 });
    const events = await eventTriples(t, id);
    const incidents = events.filter((e) => e[1] === 'incidents');
    expect(incidents).to.have.length(152);
    expect(incidents.filter((e) => e[0] === 'UPDATED')).to.deep.equal([
      ['UPDATED', 'incidents', '2'],
      ['UPDATED', 'incidents', '10'],
    ]);
    expect(events.filter((e) => e[1] === 'contacts')).to.deep.equal([['CREATED', 'contacts', '1']]);
  });
});
