import { expect } from 'chai';
import got from 'got';
import type { OAuthProvider } from '../../auth/helpers.js';
import { docOAuthInstanceJson } from '../catalog.js';
import type { TestGateway } from '../../helpers/gateway.js';
import type { GraphProvider } from './graph.js';

export const TENANT = 'contoso.onmicrosoft.com';

/** The doc page's instance JSON, with a code from the authorize step. */
export async function createFromDocPage(
  t: TestGateway,
  oauth: OAuthProvider,
  graph: GraphProvider,
  configuration: Record<string, unknown> = {},
): Promise<{ id: number }> {
  const json = docOAuthInstanceJson('microsoft-graph');
  const doc = json.configuration;
  const query = new URLSearchParams({
    apiKey: String(doc['oauth.api.key']),
    apiSecret: String(doc['oauth.api.secret']),
    callbackUrl: String(doc['oauth.callback.url']),
    state: 's',
    'graph.tenant': TENANT,
    'oauth.base.url': oauth.url,
  });
  const url = (await t.api.get(`elements/microsoft-graph/oauth/url?${query}`)).body as unknown as { oauthUrl: string };
  expect(url.oauthUrl).to.match(new RegExp(`^${oauth.url}/${TENANT}/oauth2/v2.0/authorize\\?`));
  expect(new URL(url.oauthUrl).searchParams.get('scope')).to.equal('User.Read.All Calendars.Read offline_access');
  const redirect = await got(url.oauthUrl, { followRedirect: false, throwHttpErrors: false, retry: { limit: 0 } });
  const code = new URL(redirect.headers.location!).searchParams.get('code')!;
  const body = { ...json, providerData: { code }, configuration: { ...doc, 'oauth.base.url': oauth.url, 'base.url': `${graph.url}/v1.0`, ...configuration } };
  const res = await t.api.post('instances', { json: body });
  expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
  return res.body as unknown as { id: number };
}
