import { OAUTH_KEYS, TOKEN_KEYS } from '../connectors/settings-keys.js';
import type { AuthAlternative, ConnectorDefinition } from '../connectors/schema.js';
import { authOf, unmatchedAuth, userGrantedOAuth, whenKeys } from '../connectors/auth-alternatives.js';
import { destinationNames, movedDestinations, secretDestinations } from './destinations.js';
import { ApiError } from '../errors.js';
import { ProviderError } from '../provider/http-client.js';
import { REDACTED } from '../secrets/redact.js';
import type { InstanceAuthorizer, InstanceUnitOfWork } from '../instances/hooks.js';
import type { Problem } from '../instances/settings.js';
import { OAuthRefusedError, clientCredentialsGrant, exchangeCode, type TokenAnswer } from './oauth2.js';
import { accessTokenRequest, parseTokenAnswer } from './oauth1.js';
import type { ProviderAuth } from './provider-auth.js';
import { isOAuth, oauth1Consumer, oauth2Client, oauth2Endpoints, oauthUrl } from './settings.js';
import type { TokenSet, TokenStore } from './store.js';

/**
 * The auth steps of creating and PATCHing an instance, Cloud Elements' way: `providerData` (an
 * OAuth 2.0 code, or OAuth 1.0a's `oauth_token`/`oauth_verifier`/`secret`) is exchanged for tokens
 * before anything is stored, `oauth.user.*` keys hand tokens over directly, and the client-credentials
 * grant is tried at once. A refused exchange is a 400 `OAUTH_EXCHANGE_FAILED` with the provider's
 * error, and nothing is stored. Tokens go to the token store, never into the configuration.
 */
type Grant = { type: string; tokens: TokenSet; expiresAt: number | null };

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export class InstanceGrants implements InstanceAuthorizer<InstanceUnitOfWork & { tokens: TokenStore }, Grant> {
  constructor(private readonly auth: ProviderAuth) {}

  check(
    connector: ConnectorDefinition,
    configuration: Record<string, unknown>,
    providerData: unknown,
    problems: Problem[],
    supplied: Record<string, unknown> | undefined,
    previous?: Record<string, unknown>,
  ): boolean {
    if (providerData !== undefined && (typeof providerData !== 'object' || providerData === null || Array.isArray(providerData))) {
      problems.push({ field: 'providerData', message: 'must be an object' });
      return false;
    }
    const unmatched = unmatchedAuth(connector, configuration);
    if (unmatched) {
      problems.push({ field: 'configuration', message: unmatched });
      return false;
    }
    const auth = authOf(connector, configuration);
    const handsOver = TOKEN_KEYS.some((k) => (supplied ?? configuration)[k] !== undefined);
    if (!isOAuth(auth)) {
      if (providerData !== undefined) {
        const oauth = userGrantedOAuth(connector);
        const hint = oauth ? `: set ${whenKeys(oauth as AuthAlternative).join(' and ') || 'its keys'} to use its ${oauth.type} alternative` : '';
        problems.push({ field: 'providerData', message: `is for OAuth auth; this configuration of "${connector.key}" uses ${auth?.type ?? 'no'} auth${hint}` });
      }
      return false;
    }
    // A PATCH re-authenticates only when it brings new credentials: providerData or tokens, or for
    // client credentials a new key or secret ("********" sent back keeps the stored one), or when
    // it moves the instance to another of the connector's auth alternatives.
    const newClient =
      auth.type === 'oauth2-client-credentials' &&
      [OAUTH_KEYS.apiKey, OAUTH_KEYS.apiSecret].some((k) => supplied?.[k] !== undefined && supplied[k] !== REDACTED);
    const switched = previous !== undefined && authOf(connector, previous) !== auth;
    // The stored grant goes where the API and the token endpoint are: a PATCH that moves either
    // must bring a new grant (client credentials: the key and secret it must give again get one).
    const moved = previous === undefined ? [] : movedDestinations(secretDestinations(connector, previous), secretDestinations(connector, configuration));
    if (moved.length > 0 && auth.type !== 'oauth2-client-credentials' && providerData === undefined && !handsOver) {
      problems.push({
        field: 'providerData',
        message: `is required: this change sends the OAuth grant to another host (${destinationNames(moved)}); authorize again and give the new ${
          auth.type === 'oauth1' ? 'oauth_token, oauth_verifier and secret' : 'code'
        } (or oauth.user.* tokens)`,
      });
      return false;
    }
    const touchesAuth = supplied === undefined || providerData !== undefined || handsOver || newClient || switched;
    if (!touchesAuth) return false;
    for (const key of [OAUTH_KEYS.apiKey, OAUTH_KEYS.apiSecret]) {
      if (!text(configuration[key])) problems.push({ field: `configuration.${key}`, message: `is required by the ${auth.type} auth of "${connector.key}"` });
    }
    const data = (providerData ?? {}) as Record<string, unknown>;
    if (auth.type === 'oauth2') {
      if (providerData !== undefined && !text(data.code))
        problems.push({ field: 'providerData.code', message: 'is required: the code the provider gave the callback URL' });
      if (providerData !== undefined && !text(configuration[OAUTH_KEYS.callbackUrl]))
        problems.push({
          field: `configuration.${OAUTH_KEYS.callbackUrl}`,
          message: 'is required to exchange a code (the redirect_uri the code was issued for)',
        });
      if (providerData === undefined && !text(configuration[OAUTH_KEYS.userToken]) && !text(configuration[OAUTH_KEYS.userRefreshToken])) {
        problems.push({
          field: 'providerData',
          message: `is required: {"code": …} from the provider's authorize redirect (or oauth.user.token / oauth.user.refresh_token)`,
        });
      }
    } else if (auth.type === 'oauth1') {
      if (providerData !== undefined) {
        for (const key of ['oauth_token', 'oauth_verifier', 'secret'])
          if (!text(data[key])) problems.push({ field: `providerData.${key}`, message: 'is required for an OAuth 1.0a exchange' });
      } else if (!text(configuration[OAUTH_KEYS.userToken]) || !text(configuration[OAUTH_KEYS.userTokenSecret])) {
        problems.push({
          field: 'providerData',
          message: 'is required: {"oauth_token", "oauth_verifier", "secret"} from the authorize step (or oauth.user.token and oauth.user.token.secret)',
        });
      }
    }
    return true;
  }

  withoutTokens(configuration: Record<string, unknown>): Record<string, unknown> {
    return Object.fromEntries(Object.entries(configuration).filter(([k]) => !TOKEN_KEYS.includes(k)));
  }

  async obtain(connector: ConnectorDefinition, configuration: Record<string, unknown>, providerData: unknown): Promise<Grant> {
    const auth = authOf(connector, configuration);
    if (!isOAuth(auth)) throw new Error('not an OAuth connector');
    const data = (providerData ?? {}) as Record<string, string>;
    const target = { connector, configuration };
    // A code or verifier is single-use: not sent again once it may have arrived.
    const send = this.auth.tokenEndpoint(target, auth.type === 'oauth2-client-credentials' ? 'unissued' : 'unsent');
    try {
      if (auth.type === 'oauth1') {
        if (providerData === undefined)
          return {
            type: auth.type,
            tokens: { accessToken: text(configuration[OAUTH_KEYS.userToken])!, tokenSecret: text(configuration[OAUTH_KEYS.userTokenSecret]) },
            expiresAt: null,
          };
        const request = accessTokenRequest(
          oauthUrl(auth.accessTokenUrl, configuration, connector.baseUrl),
          oauth1Consumer(configuration),
          { token: data.oauth_token, secret: data.secret },
          data.oauth_verifier,
        );
        const answer = await send(request);
        if (answer.status >= 400) throw new OAuthRefusedError(oauth1Error(answer.body), `HTTP ${answer.status}`, answer.status);
        const pair = parseTokenAnswer(answer.body);
        return { type: auth.type, tokens: { accessToken: pair.token, tokenSecret: pair.secret }, expiresAt: null };
      }
      const endpoints = oauth2Endpoints(auth, configuration);
      const client = oauth2Client(auth, configuration);
      let answer: TokenAnswer;
      if (auth.type === 'oauth2-client-credentials') answer = await clientCredentialsGrant(endpoints, client, send);
      else if (providerData !== undefined) answer = await exchangeCode(endpoints, client, data.code, send, text(data.code_verifier));
      else {
        // Tokens handed over: without a known expiry, refreshed only after a 401 (or at once without an access token).
        const accessToken = text(configuration[OAUTH_KEYS.userToken]) ?? '';
        const tokens: TokenSet = { accessToken, refreshToken: text(configuration[OAUTH_KEYS.userRefreshToken]) };
        // Without an access token the lookup waits for the first refresh.
        if (auth.type === 'oauth2' && auth.baseUrlLookup && accessToken)
          tokens.baseUrl = await this.auth.baseUrlByLookup(target, auth.baseUrlLookup, accessToken);
        return { type: auth.type, tokens, expiresAt: accessToken ? null : 0 };
      }
      const grant = this.auth.tokenSetOf(target, answer);
      if (auth.type === 'oauth2' && auth.baseUrlLookup)
        grant.tokens.baseUrl = await this.auth.baseUrlByLookup(target, auth.baseUrlLookup, grant.tokens.accessToken);
      return { type: auth.type, ...grant };
    } catch (err) {
      if (err instanceof OAuthRefusedError) {
        throw new ApiError(
          400,
          'OAUTH_EXCHANGE_FAILED',
          `the provider refused the OAuth exchange: ${err.message.replace(/^the provider refused the grant: /, '')}`,
          [{ error: err.error, ...(err.description ? { error_description: err.description } : {}), status: err.status }],
        );
      }
      if (err instanceof ProviderError)
        throw new ApiError(502, 'OAUTH_EXCHANGE_FAILED', `the OAuth exchange could not be made: ${err.message}`, [{ errorSource: err.errorSource }]);
      throw new ApiError(400, 'OAUTH_EXCHANGE_FAILED', `the OAuth exchange failed: ${(err as Error).message}`, []);
    }
  }

  save(uow: InstanceUnitOfWork & { tokens: TokenStore }, instanceId: number, grant: Grant, now: number): Promise<void> {
    return uow.tokens.put(instanceId, grant, now);
  }
}

/** An OAuth 1.0a error answer is form-encoded (`oauth_problem=…`) or plain text. */
function oauth1Error(body: string): string {
  const problem = new URLSearchParams(body).get('oauth_problem');
  return problem ?? (body.slice(0, 200) || 'refused');
}
