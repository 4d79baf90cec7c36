import { timingSafeEqual } from 'node:crypto';

/**
 * The pieces every HMAC form shares: the signed-content template (docs/connectors.md "Webhooks"),
 * headers read case-insensitively, timestamps read in the forms providers send, and the
 * constant-time comparison of a signature with the expected digest.
 */

/** `url` is the full URL as the provider saw it; header names are lower-case (as node gives them). */
export type SignedRequest = { method: string; url: string; headers: Record<string, string | string[] | undefined>; rawBody: Buffer };
export type Encoding = 'hex' | 'base64';

/** `{body}`, `{timestamp}`, `{method}`, `{url}` and `{header:<Name>}` (an HTTP header name). */
const PLACEHOLDER = /\{(body|timestamp|method|url|header:[!#$%&'*+.^_`|~0-9A-Za-z-]+)\}/g;
const PLACEHOLDERS_HELP = '{body}, {timestamp}, {method}, {url} and {header:<Name>}';

/** What is wrong with a template, in words a connector author can act on; undefined when nothing is. */
export function templateProblem(template: string): string | undefined {
  const unknown = template.match(/\{[^}]*\}/g)?.find((p) => !new RegExp(`^${PLACEHOLDER.source}$`).test(p));
  if (unknown) return `signedContent uses ${unknown}; the placeholders are ${PLACEHOLDERS_HELP}`;
  return undefined;
}

export const usesTimestamp = (template: string | undefined): boolean => Boolean(template?.includes('{timestamp}'));

/**
 * The signed bytes: the template with its placeholders filled, the body as its exact raw bytes.
 * A `{header:…}` the request lacks is reported by name (the request is refused).
 */
export function fillSignedContent(template: string, req: SignedRequest, timestamp: string): { bytes: Buffer } | { missingHeader: string } {
  const parts: Buffer[] = [];
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    parts.push(Buffer.from(template.slice(last, match.index), 'utf8'));
    const name = match[1];
    if (name === 'body') parts.push(req.rawBody);
    else if (name.startsWith('header:')) {
      const value = header(req, name.slice('header:'.length));
      if (value === undefined) return { missingHeader: name.slice('header:'.length) };
      parts.push(Buffer.from(value, 'utf8'));
    } else parts.push(Buffer.from(name === 'timestamp' ? timestamp : name === 'method' ? req.method.toUpperCase() : req.url, 'utf8'));
    last = match.index + match[0].length;
  }
  parts.push(Buffer.from(template.slice(last), 'utf8'));
  return { bytes: Buffer.concat(parts) };
}

/** Decodes the given signature strictly and compares it with the expected digest in constant time. */
export function signatureMatches(given: string, expected: Buffer, encoding: Encoding): boolean {
  const text = given.trim();
  const valid = encoding === 'hex' ? /^(?:[0-9a-fA-F]{2})+$/.test(text) : /^[A-Za-z0-9+/_-]+={0,2}$/.test(text);
  if (!valid) return false;
  const bytes = Buffer.from(text, encoding); // base64 decoding also accepts the URL-safe alphabet
  return bytes.length === expected.length && timingSafeEqual(bytes, expected);
}

/** A header by name, case-insensitively (names normally arrive lower-cased); the first of repeated ones. */
export function header(req: Pick<SignedRequest, 'headers'>, name: string): string | undefined {
  const lower = name.toLowerCase();
  let value = req.headers[lower];
  if (value === undefined) {
    const key = Object.keys(req.headers).find((k) => k.toLowerCase() === lower);
    value = key === undefined ? undefined : req.headers[key];
  }
  return Array.isArray(value) ? value[0] : value;
}

/**
 * A timestamp as epoch ms. Numbers are epoch seconds (Stripe, Slack) or milliseconds (HubSpot),
 * told apart by size: below 1e11 is seconds (until the year 5138), above is ms (after March 1973).
 * Anything else is read as an ISO 8601 date (Zendesk).
 */
export function timestampMs(value: string): number | undefined {
  const text = value.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    ms = n < 1e11 ? n * 1000 : n;
  } else {
    ms = Date.parse(text);
  }
  return Number.isFinite(ms) ? ms : undefined;
}

/** Why a timestamp is refused at `nowMs`, or undefined when it is within `toleranceSeconds` (0: not checked). */
export function timestampProblem(value: string, where: string, nowMs: number, toleranceSeconds: number | undefined): string | undefined {
  if (!toleranceSeconds) return undefined;
  const at = timestampMs(value);
  if (at === undefined) return `${where} is not a timestamp`;
  return Math.abs(nowMs - at) > toleranceSeconds * 1000 ? 'timestamp outside tolerance' : undefined;
}
