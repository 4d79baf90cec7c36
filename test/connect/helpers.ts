import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import type { TestGateway } from '../helpers/gateway.js';
import { providerConnector, registerConnector } from '../poller/helpers.js';
import type { OAuthProvider } from '../auth/helpers.js';

/** The app's origin in these tests: success and error URLs live there (an allowed redirect origin). */
export const APP_ORIGIN = 'http://app.example.test:4000';

/** Gateway config for connect tests: the app's origin allowed. */
export const CONNECT_CONFIG = { connect: { allowedRedirectOrigins: [APP_ORIGIN] } };

/** The gateway's own address is its public URL (the connect page's links and the OAuth redirect URI). */
export function publicUrlIsGateway(t: TestGateway): void {
  t.gateway.config.server.publicUrl = t.url;
}

/** A key-based connector (`base_url`, secret `api_key`) and an OAuth 2.0 one pointed at the mock authorization server. */
export async function registerConnectors(t: TestGateway, oauth?: OAuthProvider): Promise<void> {
  await registerConnector(
    t,
    providerConnector('keyscrm', {
      configuration: [
        { key: 'base_url', required: true, description: 'Your account address' },
        { key: 'api_key', required: true, secret: true, description: 'An API key from your settings page' },
      ],
    }),
  );
  if (oauth)
    await registerConnector(
      t,
      providerConnector('oauthcrm', {
        configuration: [{ key: 'base_url', required: true, description: 'Your account address' }],
        auth: {
          type: 'oauth2',
          authorizationUrl: `${oauth.url}/oauth/authorize`,
          tokenUrl: `${oauth.url}/oauth/token`,
          scopes: ['contacts.read'],
          clientAuth: 'body',
        },
      } as never),
    );
}

/** The app's side of the signed result: recompute the HMAC with the API token (docs/connect.md). */
export function verifySignature(apiToken: string, url: URL): void {
  const expected = createHmac('sha256', apiToken)
    .update(`${url.searchParams.get('instance_id')}.${url.searchParams.get('session')}`)
    .digest('hex');
  expect(url.searchParams.get('signature')).to.equal(expected);
}

export async function newSession(t: TestGateway, body: Record<string, unknown>): Promise<{ id: string; token: string; url: string; expiresAt: string }> {
  const res = await t.api.post('connect/sessions', { json: { successUrl: `${APP_ORIGIN}/connected`, errorUrl: `${APP_ORIGIN}/failed`, ...body } });
  expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
  return res.body as never;
}
