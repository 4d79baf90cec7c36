import { OAUTH_KEYS } from '../connectors/settings-keys.js';
import { randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import type { RouteModule } from '../api/app.js';
import type { ConnectorRegistry } from '../connectors/registry.js';
import { ApiError, NotFoundError, ValidationError } from '../errors.js';
import { authorizeUrl } from './oauth2.js';
import { parseTokenAnswer, requestTokenRequest } from './oauth1.js';
import type { ProviderAuth } from './provider-auth.js';
import { authAlternatives, userGrantedOAuth } from '../connectors/auth-alternatives.js';
import { oauth1Consumer, oauth2Client, oauth2Endpoints, oauthUrl } from './settings.js';

/**
 * Cloud Elements' OAuth helpers for an integrator's UI:
 *   GET /elements/:key/oauth/url?apiKey=&apiSecret=&callbackUrl=&scope=&state=[&requestToken=]
 *       → {oauthUrl, element, state}: where to send the user to grant access (OAuth 2.0: with the
 *         `state` given, or one generated, for the caller to check on the redirect)
 *   GET /elements/:key/oauth/token?apiKey=&apiSecret=&callbackUrl=   (OAuth 1.0a)
 *       → {token, secret}: a request token, to pass to /oauth/url as `requestToken`
 * Other query parameters are configuration values the connector's URL templates may use
 * (e.g. a site name, or `oauth.base.url`).
 */
function configurationOf(query: Record<string, unknown>): Record<string, unknown> {
  const one = (v: unknown) => (Array.isArray(v) ? v[0] : v);
  const configuration: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(query))
    if (!['apiKey', 'apiSecret', 'callbackUrl', 'scope', 'state', 'requestToken'].includes(k)) configuration[k] = one(v);
  const set = (key: string, v: unknown) => {
    if (typeof one(v) === 'string' && one(v) !== '') configuration[key] = one(v);
  };
  set(OAUTH_KEYS.apiKey, query.apiKey);
  set(OAUTH_KEYS.apiSecret, query.apiSecret);
  set(OAUTH_KEYS.callbackUrl, query.callbackUrl);
  set(OAUTH_KEYS.scope, query.scope);
  return configuration;
}

function requireParams(configuration: Record<string, unknown>, pairs: Array<[string, string]>): void {
  const missing = pairs.filter(([key]) => configuration[key] === undefined);
  if (missing.length)
    throw new ValidationError(
      `${missing.map(([, p]) => p).join(', ')} ${missing.length > 1 ? 'are' : 'is'} required`,
      missing.map(([, p]) => ({ field: p, message: 'is required' })),
    );
}

/**
 * The redirect URI must be a web address: the provider sends the user's browser there with the
 * code, so `javascript:`, `data:` or a custom scheme would hand the code to whatever handles it.
 * OAuth 1.0a's out-of-band `oob` is allowed where the flow defines it (`/oauth/token`).
 */
function requireWebCallback(configuration: Record<string, unknown>, o: { oob?: boolean } = {}): void {
  const value = String(configuration[OAUTH_KEYS.callbackUrl]);
  if (o.oob && value === 'oob') return;
  let protocol = '';
  try {
    protocol = new URL(value).protocol;
  } catch {
    // not a URL: refused below
  }
  if (protocol !== 'http:' && protocol !== 'https:')
    throw new ValidationError('callbackUrl must be an http or https URL', [{ field: 'callbackUrl', message: 'must be an http or https URL' }]);
}

export function oauthRoutes({ connectors, providerAuth: auth }: { connectors: ConnectorRegistry; providerAuth: ProviderAuth }): RouteModule {
  /** The connector and its user-granted OAuth alternative (a connector may offer it beside a token). */
  const oauthConnector = (key: string) => {
    const connector = connectors.get(key);
    if (!connector) throw new NotFoundError(`unknown connector "${key}"`);
    const auth = userGrantedOAuth(connector);
    if (!auth) {
      const types =
        authAlternatives(connector)
          .map((a) => a.type)
          .join(' or ') || 'none';
      throw new ValidationError(`connector "${key}" does not use a user-granted OAuth flow (its auth is ${types})`, [{ field: 'key' }]);
    }
    return { connector, auth };
  };

  return (router: Router) => {
    router.get('/elements/:key/oauth/url', (ctx) => {
      const { connector, auth: a } = oauthConnector(ctx.params.key);
      const configuration = configurationOf(ctx.query);
      requireParams(configuration, [
        [OAUTH_KEYS.apiKey, 'apiKey'],
        [OAUTH_KEYS.callbackUrl, 'callbackUrl'],
      ]);
      requireWebCallback(configuration);
      let oauthUrlValue: string;
      let state: string | undefined;
      if (a.type === 'oauth2') {
        // Without a state the redirect cannot be tied to the user who started it (CSRF, RFC 6749 §10.12).
        state = typeof ctx.query.state === 'string' && ctx.query.state !== '' ? ctx.query.state : randomBytes(16).toString('base64url');
        oauthUrlValue = authorizeUrl(
          { ...oauth2Endpoints(a, configuration), authorizationUrl: oauthUrl(a.authorizationUrl, configuration), authorizationParams: a.authorizationParams },
          oauth2Client(a, configuration),
          state,
        );
      } else if (a.type === 'oauth1') {
        const requestToken = typeof ctx.query.requestToken === 'string' ? ctx.query.requestToken : '';
        if (!requestToken)
          throw new ValidationError('requestToken is required for an OAuth 1.0a connector: get one from GET /elements/:key/oauth/token', [
            { field: 'requestToken', message: 'is required' },
          ]);
        const url = new URL(oauthUrl(a.authorizeUrl, configuration, connector.baseUrl));
        url.searchParams.set('oauth_token', requestToken);
        oauthUrlValue = url.toString();
      } else throw new Error('unreachable');
      ctx.body = { oauthUrl: oauthUrlValue, element: connector.key, ...(state ? { state } : {}) };
    });

    router.get('/elements/:key/oauth/token', async (ctx) => {
      const { connector, auth: a } = oauthConnector(ctx.params.key);
      if (a.type !== 'oauth1')
        throw new ValidationError(`connector "${connector.key}" uses OAuth 2.0: it has no request token; call /oauth/url`, [{ field: 'key' }]);
      const configuration = configurationOf(ctx.query);
      requireParams(configuration, [
        [OAUTH_KEYS.apiKey, 'apiKey'],
        [OAUTH_KEYS.apiSecret, 'apiSecret'],
        [OAUTH_KEYS.callbackUrl, 'callbackUrl'],
      ]);
      requireWebCallback(configuration, { oob: true });
      const request = requestTokenRequest(
        oauthUrl(a.requestTokenUrl, configuration, connector.baseUrl),
        oauth1Consumer(configuration),
        String(configuration[OAUTH_KEYS.callbackUrl]),
      );
      const answer = await auth
        .tokenEndpoint(
          { connector, configuration },
          'unsent',
        )(request)
        .catch((err: Error) => {
          throw new ApiError(502, 'OAUTH_EXCHANGE_FAILED', `the request-token call could not be made: ${err.message}`, []);
        });
      if (answer.status >= 400)
        throw new ApiError(400, 'OAUTH_EXCHANGE_FAILED', `the provider refused the request-token call: HTTP ${answer.status}`, [
          { status: answer.status, response: answer.body.slice(0, 500) },
        ]);
      try {
        const pair = parseTokenAnswer(answer.body);
        ctx.body = { token: pair.token, secret: pair.secret };
      } catch (err) {
        throw new ApiError(400, 'OAUTH_EXCHANGE_FAILED', `the provider's request-token answer is unusable: ${(err as Error).message}`, []);
      }
    });
  };
}
