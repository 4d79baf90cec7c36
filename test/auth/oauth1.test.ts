import { expect } from 'chai';
import { instanceCount, startGateway, type TestGateway } from '../helpers/gateway.js';
import { pollNow, registerConnector } from '../poller/helpers.js';
import { capturedLogger } from './helpers.js';
import { DeskProvider } from './desk-provider.js';

const MINUTE = 60_000;
const CONSUMER = { key: 'desk-consumer-key', secret: 'desk-consumer-secret' };
const CALLBACK = 'http://127.0.0.1:9/desk/callback';

/** A Desk-like connector: OAuth 1.0a, the helpdesk hub's incidents and contacts, a form-encoded request template. */
function deskConnector() {
  const where = { 'updated_at>': { param: 'updated_since', format: 'epoch:s' } };
  return {
    key: 'desk-test',
    name: 'Desk (test)',
    hub: 'helpdesk',
    configuration: [{ key: 'site', required: true, description: 'the Desk site URL' }],
    baseUrl: '<%= iparam.site %>',
    auth: {
      type: 'oauth1',
      signatureMethod: 'HMAC-SHA1',
      requestTokenUrl: '<%= iparam.site %>/oauth/request_token',
      authorizeUrl: '<%= iparam.site %>/oauth/authorize',
      accessTokenUrl: '<%= iparam.site %>/oauth/access_token',
    },
    resources: {
      incidents: { path: '/cases', idField: 'id', where, pagination: { type: 'page', pageParam: 'page', sizeParam: 'per_page', size: 2 } },
      contacts: { path: '/customers', idField: 'id', where },
    },
    events: { supported: ['polling'] },
    requests: {
      addNote: {
        schema: {
          method: 'POST',
          path: '/cases/<%= context.id %>/notes',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: 'body=<%= context.text %>&kind=note',
          query: { notify: 'false' },
        },
      },
    },
  };
}

describe('provider auth: OAuth 1.0a (Desk style)', () => {
  let t: TestGateway;
  let desk: DeskProvider;
  let logs: string[];

  beforeEach(async () => {
    desk = await DeskProvider.start(CONSUMER);
    const captured = capturedLogger();
    logs = captured.lines;
    t = await startGateway({ options: { log: captured.log } });
    desk.api.now = () => t.clock.now();
    await registerConnector(t, deskConnector());
  });

  afterEach(async () => {
    await t.close();
    await desk.close();
  });

  /** Cloud Elements' Desk instance JSON (test/providers/desk/cloud-elements-instance.json), placeholders filled, with only the site added. */
  function cloudElementsInstance(providerData: Record<string, string>) {
    return {
      element: { key: 'desk-test' },
      providerData,
      configuration: {
        'oauth.api.key': CONSUMER.key,
        'oauth.api.secret': CONSUMER.secret,
        'oauth.callback.url': CALLBACK,
        'event.notification.enabled': 'true',
        'event.notification.callback.url': 'http://127.0.0.1:9/my-app/events',
        'event.poller.configuration': {
          incidents: { url: "/hubs/helpdesk/incidents?where=updated_at>'${date:yyyy-MM-dd'T'HH:mm:ssXXX}'", idField: 'id' },
          contacts: { url: "/hubs/helpdesk/contacts?where=updated_at>'${date:yyyy-MM-dd'T'HH:mm:ssXXX}'", idField: 'id' },
        },
        site: desk.url,
      },
      tags: ['desk'],
      name: 'Acme Desk',
    };
  }

  it('runs the three-legged flow, creates the Cloud Elements instance, and signs every poll page, retry and form request', async () => {
    const site = encodeURIComponent(desk.url);
    const tokenRes = await t.api.get(
      `elements/desk-test/oauth/token?apiKey=${CONSUMER.key}&apiSecret=${CONSUMER.secret}&callbackUrl=${encodeURIComponent(CALLBACK)}&site=${site}`,
    );
    expect(tokenRes.statusCode, JSON.stringify(tokenRes.body)).to.equal(200);
    const request = tokenRes.body as unknown as { token: string; secret: string };
    expect(desk.requestTokens.get(request.token)).to.include({ secret: request.secret, callback: CALLBACK });

    const urlRes = await t.api.get(
      `elements/desk-test/oauth/url?apiKey=${CONSUMER.key}&apiSecret=${CONSUMER.secret}&callbackUrl=${encodeURIComponent(CALLBACK)}&site=${site}&requestToken=${request.token}`,
    );
    expect(urlRes.body).to.deep.equal({ oauthUrl: `${desk.url}/oauth/authorize?oauth_token=${request.token}`, element: 'desk-test' });
    const back = new URL(desk.authorize(request.token));

    const created = await t.api.post('instances', {
      json: cloudElementsInstance({
        oauth_token: back.searchParams.get('oauth_token')!,
        oauth_verifier: back.searchParams.get('oauth_verifier')!,
        secret: request.secret,
      }),
    });
    expect(created.statusCode, JSON.stringify(created.body)).to.equal(201);
    const id = (created.body as unknown as { id: number }).id;
    // The access-token call was accepted: signed with the consumer secret and the request-token secret.
    const exchange = desk.verified.find((v) => v.path === '/oauth/access_token')!;
    expect(exchange).to.include({ token: request.token });
    const [accessToken] = [...desk.accessTokens.keys()];

    t.clock.advance(MINUTE);
    for (let i = 0; i < 3; i++) desk.api.collection('cases').upsert({ subject: `case ${i}` });
    desk.api.collection('customers').upsert({ name: 'Ada' });
    desk.api.failNext(1, { status: 503, body: 'busy' }, { path: '/customers' });
    const result = await pollNow(t, id);
    expect(result.incidents).to.include({ fetched: 3, created: 3 });
    expect(result.contacts).to.include({ fetched: 1, created: 1 });
    const api = desk.verified.filter((v) => !v.path.startsWith('/oauth/'));
    // Two pages of cases and the customers retry, each verified with the access token and its own nonce.
    expect(api).to.have.length(3);
    expect(new Set(api.map((v) => v.path))).to.deep.equal(new Set(['/cases', '/customers']));
    expect(api.filter((v) => v.path === '/cases').map((v) => v.params.page)).to.deep.equal(['1', '2']);
    for (const v of api) {
      expect(v.token).to.equal(accessToken);
      expect(v.params.updated_since).to.match(/^\d+$/);
    }
    expect(desk.rejected).to.deep.equal([]);

    // A form-encoded request template: its form fields and query are in the signature base.
    desk.api.route('POST', '/cases/:id/notes', (req) => ({ status: 201, body: { id: 1, case: req.params.id } }));
    const note = await t.api.post(`instances/${id}/requests/addNote`, { json: { context: { id: 7, text: "hello world! it's (fine)*" } } });
    expect(note.statusCode, JSON.stringify(note.body)).to.equal(200);
    const signedNote = desk.verified.find((v) => v.path === '/cases/7/notes')!;
    expect(signedNote.params).to.include({ body: "hello world! it's (fine)*", kind: 'note', notify: 'false', oauth_token: accessToken });

    // No consumer secret, token secret or signature in an answer or a log line.
    const status = await t.api.get(`instances/${id}/status`);
    expect(status.body).to.deep.include({ auth: { type: 'oauth1', state: 'ok', expiresAt: null, lastRefreshAt: null, lastError: null } });
    const answers = [JSON.stringify(created.body), JSON.stringify((await t.api.get(`instances/${id}`)).body), JSON.stringify(status.body)];
    const secrets = [CONSUMER.secret, request.secret, ...desk.accessTokens.values(), accessToken];
    for (const s of secrets) for (const text of [...answers, ...logs]) expect(text.includes(s), s).to.equal(false);
    expect(logs.join('\n')).to.not.match(/oauth_signature/);
  });

  it('a refused access-token exchange answers 400 with the provider problem and stores nothing', async () => {
    const res = await t.api.post('instances', { json: cloudElementsInstance({ oauth_token: 'rt-unknown', oauth_verifier: 'v-x', secret: 'rts-x' }) });
    expect(res.statusCode).to.equal(400);
    expect(res.body).to.deep.include({ code: 'OAUTH_EXCHANGE_FAILED' });
    expect((res.body as unknown as { message: string }).message).to.match(/signature_invalid/);
    expect(await instanceCount(t)).to.equal(0);
  });

  it('takes tokens handed over as oauth.user.token and oauth.user.token.secret', async () => {
    desk.accessTokens.set('at-given', 'ats-given');
    const json = cloudElementsInstance({});
    delete (json as { providerData?: unknown }).providerData;
    Object.assign(json.configuration, { 'oauth.user.token': 'at-given', 'oauth.user.token.secret': 'ats-given' });
    const created = await t.api.post('instances', { json });
    expect(created.statusCode, JSON.stringify(created.body)).to.equal(201);
    expect(JSON.stringify(created.body)).to.not.include('ats-given');
    t.clock.advance(MINUTE);
    desk.api.collection('customers').upsert({ name: 'Ada' });
    expect((await pollNow(t, (created.body as unknown as { id: number }).id)).contacts).to.include({ created: 1 });
    expect(desk.verified.at(-1)).to.include({ token: 'at-given' });
  });
});
