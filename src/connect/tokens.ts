import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The random values of the connect flow and what is derived from them. Session tokens and OAuth
 * states are 256 random bits, kept only as SHA-256 hashes; the form's CSRF value is an HMAC of
 * the session token (nothing to store); the result's signature is an HMAC an app checks with its
 * API token (docs/connect.md).
 */
export const newSecretToken = (): string => randomBytes(32).toString('base64url');

export const newSessionId = (): string => `cs_${randomBytes(12).toString('base64url')}`;

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

/** A session token's shape: 43 base64url characters (32 bytes). Anything else is not looked up. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** The form's hidden `csrf` value: tied to the session, unknowable without its token and the gateway's key. */
export function csrfValue(key: string, sessionToken: string): string {
  return createHmac('sha256', key).update(`connect-form:${sessionToken}`).digest('base64url');
}

export function sameValue(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The success redirect's `signature`: HMAC-SHA256, keyed with the API token, over `<instance_id>.<session>`, hex. */
export function resultSignature(apiToken: string, instanceId: number, sessionId: string): string {
  return createHmac('sha256', apiToken).update(`${instanceId}.${sessionId}`).digest('hex');
}
