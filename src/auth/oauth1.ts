import { createHmac } from 'node:crypto';
import OAuth from 'oauth-1.0a';
import type { OutboundRequest } from '../network/outbound.js';

/**
 * OAuth 1.0a (RFC 5849) through the `oauth-1.0a` library, HMAC-SHA1: signing each provider
 * request (its final URL with query parameters and any form body are in the signature base), and
 * the two token requests of the three-legged flow.
 */
export interface Consumer {
  key: string;
  secret: string;
}

export interface TokenPair {
  token: string;
  secret: string;
}

function signer(consumer: Consumer): OAuth {
  return new OAuth({
    consumer: { key: consumer.key, secret: consumer.secret },
    signature_method: 'HMAC-SHA1',
    hash_function: (base, key) => createHmac('sha1', key).update(base).digest('base64'),
  });
}

const FORM = 'application/x-www-form-urlencoded';

function contentType(headers: Record<string, string>): string {
  const key = Object.keys(headers).find((h) => h.toLowerCase() === 'content-type');
  return key ? headers[key] : '';
}

/**
 * The request with its `Authorization: OAuth …` header. The query's spaces are sent as %20 (the
 * signature base's encoding), so the provider decodes exactly the values that were signed.
 */
export function signRequest(request: OutboundRequest, consumer: Consumer, token?: TokenPair, extra: Record<string, string> = {}): OutboundRequest {
  const url = request.url.replace(/\?.*$/, (q) => q.replace(/\+/g, '%20'));
  const form = contentType(request.headers).startsWith(FORM) && request.body !== undefined ? Object.fromEntries(new URLSearchParams(String(request.body))) : {};
  const oauth = signer(consumer);
  const data = oauth.authorize({ url, method: request.method, data: { ...form, ...extra } }, token ? { key: token.token, secret: token.secret } : undefined);
  const header = oauth.toHeader({ ...data, ...extra } as OAuth.Authorization);
  return { ...request, url, headers: { ...request.headers, authorization: header.Authorization } };
}

/** A token endpoint's answer, form-encoded (`oauth_token`, `oauth_token_secret`, …). */
export function parseTokenAnswer(body: string): TokenPair & { raw: Record<string, string> } {
  const raw = Object.fromEntries(new URLSearchParams(body));
  if (!raw.oauth_token || !raw.oauth_token_secret) throw new Error('the token answer has no oauth_token and oauth_token_secret');
  return { token: raw.oauth_token, secret: raw.oauth_token_secret, raw };
}

/** The request-token request: POST, signed with the consumer secret alone, carrying the callback. */
export function requestTokenRequest(url: string, consumer: Consumer, callbackUrl: string): OutboundRequest {
  return signRequest({ method: 'POST', url, headers: { accept: '*/*' } }, consumer, undefined, { oauth_callback: callbackUrl });
}

/** The access-token request: POST, signed with the request token and its secret, carrying the verifier. */
export function accessTokenRequest(url: string, consumer: Consumer, requestToken: TokenPair, verifier: string): OutboundRequest {
  return signRequest({ method: 'POST', url, headers: { accept: '*/*' } }, consumer, requestToken, { oauth_verifier: verifier });
}
