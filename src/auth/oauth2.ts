import * as oauth from 'oauth4webapi';
import type { OutboundRequest } from '../network/outbound.js';

/**
 * OAuth 2.0 through oauth4webapi: the authorize URL, the authorization-code exchange, refresh and
 * the client-credentials grant. The library speaks the protocol; its HTTP goes through `send`
 * (the gateway's provider calls: SSRF guard, size caps, rate budgets) via its customFetch hook.
 */
export interface OAuth2Endpoints {
  authorizationUrl?: string;
  tokenUrl: string;
  clientAuth?: 'body' | 'basic';
  tokenParams?: Record<string, string>;
}

export interface OAuth2Client {
  clientId: string;
  clientSecret: string;
  redirectUri?: string;
  /** Space- (or `scopeSeparator`-) separated, as the provider wants it. */
  scope?: string;
}

export interface TokenAnswer {
  accessToken: string;
  refreshToken?: string;
  expiresInSeconds?: number;
  /** The whole answer, for `baseUrlFrom` (e.g. Salesforce's `instance_url`). */
  raw: Record<string, unknown>;
}

/** What the token endpoint answered to a refused grant: the provider's `error` and description. */
export class OAuthRefusedError extends Error {
  constructor(
    readonly error: string,
    readonly description: string | undefined,
    readonly status: number,
  ) {
    super(`the provider refused the grant: ${error}${description ? ` (${description})` : ''}`);
    this.name = 'OAuthRefusedError';
  }
}

export type TokenEndpointSend = (request: OutboundRequest) => Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>;

function server(e: OAuth2Endpoints): oauth.AuthorizationServer {
  // Token answers are trusted as coming from the token endpoint's origin (id tokens are not used).
  return { issuer: new URL(e.tokenUrl).origin, token_endpoint: e.tokenUrl, authorization_endpoint: e.authorizationUrl };
}

const isLoopback = (url: string) => ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);

function requestOptions(e: OAuth2Endpoints, send: TokenEndpointSend, extra?: Record<string, string>): oauth.TokenEndpointRequestOptions {
  const additional = { ...(e.tokenParams ?? {}), ...(extra ?? {}) };
  return {
    ...(Object.keys(additional).length ? { additionalParameters: additional } : {}),
    // Plain http only for a provider emulated on this machine; the network policy still applies.
    ...(isLoopback(e.tokenUrl) ? { [oauth.allowInsecureRequests]: true } : {}),
    [oauth.customFetch]: async (url: string, init: oauth.CustomFetchOptions<string, unknown>) => {
      const answer = await send({ method: init.method, url, headers: init.headers, body: String(init.body ?? '') });
      const headers = new Headers();
      for (const [k, v] of Object.entries(answer.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
      return new Response(answer.body, { status: refusedWith200(answer) ? 400 : answer.status, headers });
    },
  };
}

/**
 * GitHub answers a refused code with HTTP 200 and `{"error": "bad_verification_code", …}`: read as
 * the 400 it stands for, so the provider's error is what is reported.
 */
function refusedWith200(answer: { status: number; body: string }): boolean {
  if (answer.status !== 200 || !answer.body.includes('"error"')) return false;
  try {
    const body = JSON.parse(answer.body) as Record<string, unknown>;
    return typeof body.error === 'string' && body.access_token === undefined;
  } catch {
    return false;
  }
}

function clientOf(c: OAuth2Client): oauth.Client {
  return { client_id: c.clientId };
}

function clientAuthOf(e: OAuth2Endpoints, c: OAuth2Client): oauth.ClientAuth {
  return e.clientAuth === 'basic' ? oauth.ClientSecretBasic(c.clientSecret) : oauth.ClientSecretPost(c.clientSecret);
}

async function answerOf(processing: Promise<oauth.TokenEndpointResponse>): Promise<TokenAnswer> {
  try {
    const r = await processing;
    return { accessToken: r.access_token, refreshToken: r.refresh_token, expiresInSeconds: r.expires_in, raw: r as unknown as Record<string, unknown> };
  } catch (err) {
    if (err instanceof oauth.ResponseBodyError) throw new OAuthRefusedError(err.error, err.error_description, err.status);
    if (err instanceof oauth.OperationProcessingError || err instanceof oauth.UnsupportedOperationError) {
      const status = (err as { response?: Response }).response?.status;
      throw new OAuthRefusedError('invalid_response', `${err.message}${status ? ` (HTTP ${status})` : ''}`, status ?? 0);
    }
    throw err;
  }
}

/** The provider's authorize URL for a user to grant access (state, PKCE challenge and extra params included). */
export function authorizeUrl(
  e: OAuth2Endpoints & { authorizationUrl: string; authorizationParams?: Record<string, string> },
  c: OAuth2Client,
  state?: string,
  codeChallenge?: string,
): string {
  const url = new URL(e.authorizationUrl);
  url.searchParams.set('client_id', c.clientId);
  url.searchParams.set('response_type', 'code');
  if (c.redirectUri) url.searchParams.set('redirect_uri', c.redirectUri);
  if (c.scope) url.searchParams.set('scope', c.scope);
  if (state) url.searchParams.set('state', state);
  if (codeChallenge) {
    url.searchParams.set('code_challenge', codeChallenge);
    url.searchParams.set('code_challenge_method', 'S256');
  }
  for (const [k, v] of Object.entries(e.authorizationParams ?? {})) url.searchParams.set(k, v);
  return url.toString();
}

/** PKCE (RFC 7636, S256): a verifier kept by whoever starts the grant, and the challenge sent in the authorize URL. */
export const newCodeVerifier = (): string => oauth.generateRandomCodeVerifier();
export const codeChallengeOf = (verifier: string): Promise<string> => oauth.calculatePKCECodeChallenge(verifier);

/** `codeVerifier`: the PKCE verifier when the authorize URL carried its challenge. */
export async function exchangeCode(e: OAuth2Endpoints, c: OAuth2Client, code: string, send: TokenEndpointSend, codeVerifier?: string): Promise<TokenAnswer> {
  const as = server(e);
  const client = clientOf(c);
  const params = oauth.validateAuthResponse(as, client, new URLSearchParams({ code }), oauth.skipStateCheck);
  const response = await oauth.authorizationCodeGrantRequest(
    as,
    client,
    clientAuthOf(e, c),
    params,
    c.redirectUri ?? '',
    codeVerifier ?? oauth.nopkce,
    requestOptions(e, send),
  );
  return answerOf(oauth.processAuthorizationCodeResponse(as, client, response));
}

export async function refreshGrant(e: OAuth2Endpoints, c: OAuth2Client, refreshToken: string, send: TokenEndpointSend): Promise<TokenAnswer> {
  const as = server(e);
  const client = clientOf(c);
  const response = await oauth.refreshTokenGrantRequest(as, client, clientAuthOf(e, c), refreshToken, requestOptions(e, send));
  return answerOf(oauth.processRefreshTokenResponse(as, client, response));
}

export async function clientCredentialsGrant(e: OAuth2Endpoints, c: OAuth2Client, send: TokenEndpointSend): Promise<TokenAnswer> {
  const as = server(e);
  const client = clientOf(c);
  const params: Record<string, string> = { ...(e.tokenParams ?? {}), ...(c.scope ? { scope: c.scope } : {}) };
  const response = await oauth.clientCredentialsGrantRequest(as, client, clientAuthOf(e, c), params, requestOptions({ ...e, tokenParams: {} }, send));
  return answerOf(oauth.processClientCredentialsResponse(as, client, response));
}
