import { expect } from 'chai';
import got from 'got';
import { instanceCount, startGateway, API_TOKEN, type TestGateway } from '../helpers/gateway.js';
import { registerConnector } from '../poller/helpers.js';
import { DeskProvider } from '../auth/desk-provider.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { APP_ORIGIN, CONNECT_CONFIG, newSession, publicUrlIsGateway, registerConnectors, verifySignature } from './helpers.js';

const CONSUMER = { key: 'desk-consumer-key', secret: 'desk-consumer-secret' };

/**
 * OAuth 1.0a (Desk style) through the connect page: the request token is fetched on submit (its
 * callback carries the session's state), the browser goes to the provider's authorize page, and
 * the return to /oauth/callback exchanges token and verifier; every call is signature-checked by the
 * emulated provider. Also: a session offering several connectors asks which one first.
 */
describe('connect: OAuth 1.0a and connector choice (HTTP)', () => {
  let t: TestGateway;
  let desk: DeskProvider;
  const browser = got.extend({ followRedirect: false, throwHttpErrors: false, retry: { limit: 0 } });

  beforeEach(async () => {
    desk = await DeskProvider.start(CONSUMER);
    t = await startGateway({ config: CONNECT_CONFIG });
    publicUrlIsGateway(t);
    desk.api.now = () => t.clock.now();
    await registerConnector(t, {
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
      resources: { incidents: { path: '/cases', idField: 'id', where: { 'updated_at>': { param: 'updated_since', format: 'epoch:s' } } } },
      events: { supported: ['polling'] },
    });
    await registerConnectors(t);
  });

  afterEach(async () => {
    await t.close();
    await desk.close();
  });

  const formOf = (html: string) => ({ csrf: /name="csrf" value="([^"]+)"/.exec(html)![1], connector: /name="connector" value="([^"]+)"/.exec(html)![1] });

  it('runs the three-legged flow from the page and lands on the success URL, signed', async () => {
    const s = await newSession(t, {
      connector: 'desk-test',
      configuration: {
        'oauth.api.key': CONSUMER.key,
        'oauth.api.secret': CONSUMER.secret,
        'event.poller.configuration': { incidents: { url: "/hubs/helpdesk/incidents?where=updated_at>'${date:yyyy-MM-dd'T'HH:mm:ssXXX}'", idField: 'id' } },
      },
    });
    const page = await browser.get(s.url);
    expect(page.body).to.include('name="site"');
    const leave = await browser.post(s.url, { form: { ...formOf(page.body), site: desk.url }, headers: { origin: t.url } });
    expect(leave.statusCode, leave.body).to.equal(303);
    const authorize = new URL(leave.headers.location!);
    expect(`${authorize.origin}${authorize.pathname}`).to.equal(`${desk.url}/oauth/authorize`);
    const requestToken = authorize.searchParams.get('oauth_token')!;
    expect(desk.requestTokens.get(requestToken)!.callback).to.match(new RegExp(`^${t.url}/oauth/callback\\?state=[A-Za-z0-9_-]{43}$`));
    const done = await browser.get(desk.authorize(requestToken));
    expect(done.statusCode, done.body).to.equal(303);
    const back = new URL(done.headers.location!);
    expect(`${back.origin}${back.pathname}`).to.equal(`${APP_ORIGIN}/connected`);
    verifySignature(API_TOKEN, back);
    expect(desk.verified.map((v) => v.path)).to.deep.equal(['/oauth/request_token', '/oauth/access_token']);
    const status = (await t.api.get(`instances/${back.searchParams.get('instance_id')}/status`)).body as unknown as { auth: { type: string; state: string } };
    expect(status.auth).to.include({ type: 'oauth1', state: 'ok' });
  });

  it('a refused or failed request-token call ends the session on the error URL with the reason, creating nothing', async () => {
    const sessionFor = (secret: string) =>
      newSession(t, {
        connector: 'desk-test',
        configuration: {
          'oauth.api.key': CONSUMER.key,
          'oauth.api.secret': secret,
          'event.poller.configuration': { incidents: { url: "/hubs/helpdesk/incidents?where=updated_at>'${date:yyyy-MM-dd'T'HH:mm:ssXXX}'", idField: 'id' } },
        },
      });
    const submit = async (url: string, site: string) => {
      const page = await browser.get(url);
      const leave = await browser.post(url, { form: { ...formOf(page.body), site }, headers: { origin: t.url } });
      expect(leave.statusCode, leave.body).to.equal(303);
      return new URL(leave.headers.location!);
    };
    // A wrong consumer secret: the provider refuses the signed request-token call.
    const refused = await submit((await sessionFor('not-the-secret')).url, desk.url);
    expect(`${refused.origin}${refused.pathname}`).to.equal(`${APP_ORIGIN}/failed`);
    expect(refused.searchParams.get('error')).to.equal('request_token_refused');
    expect(refused.searchParams.get('error_description')).to.match(/HTTP 401/);
    // Nothing listens at the site: the call fails before an answer.
    const closed = await EmulatedProvider.start();
    const nowhere = closed.url;
    await closed.close();
    const failed = await submit((await sessionFor(CONSUMER.secret)).url, nowhere);
    expect(failed.searchParams.get('error')).to.equal('request_token_failed');
    expect(await instanceCount(t)).to.equal(0);
    expect(desk.requestTokens.size).to.equal(0);
  });

  it('a session for several connectors shows a chooser first; a connector outside the list is not offered', async () => {
    const s = await newSession(t, { connectors: ['keyscrm', 'desk-test'] });
    const chooser = await browser.get(s.url);
    expect(chooser.body).to.include('data-form="choose"').and.include('value="keyscrm"').and.include('value="desk-test"');
    const form = await browser.get(`${s.url}?connector=keyscrm`);
    expect(form.body).to.include('name="api_key" type="password"');
    const outside = await browser.get(`${s.url}?connector=stripe`);
    expect(outside.body).to.include('data-form="choose"');
    const posted = await browser.post(s.url, { form: { ...formOf(form.body), connector: 'stripe', 'api.key': 'x' }, headers: { origin: t.url } });
    expect(posted.statusCode).to.equal(400);
    expect(await instanceCount(t)).to.equal(0);
  });
});
