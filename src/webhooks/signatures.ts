import { createHmac, timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { jwtVerify } from 'jose';
import type { SignatureDefinition, WebhookDefinition } from '../connectors/schema.js';
import { configurationPicks } from '../connectors/auth-alternatives.js';
import { DefinitionError } from '../errors.js';

/**
 * Verifying a provider's signature over the exact raw body bytes, for the schemes a connector may
 * declare (docs/connectors.md "Webhooks"): generic `hmac` (with optional prefix, signed-content
 * template and timestamp tolerance), `shared-secret` (a header equal to the secret), `github`, `stripe`, `shopify`, `standard-webhooks`,
 * `jwt` (an `Authorization: Bearer` JWT signed HS256 with the secret, checked by `jose`), or `none`.
 * Signatures are decoded to bytes and compared with `timingSafeEqual` after a length check.
 *
 * Timestamps (`timestampHeader`, Stripe's `t=`) are checked against the `nowMs` the caller passes
 * (the gateway's clock). `toleranceSeconds: 0` turns the check off. The one exception is
 * `standard-webhooks`: the `standardwebhooks` package checks its own 5-minute tolerance against the
 * real clock (`Date.now()`), so `nowMs` and `toleranceSeconds` do not apply to that scheme.
 */

/** A connector's `events.webhook.signature` (its `secret` template is rendered by the caller). */
export type SignatureConfig = NonNullable<WebhookDefinition['signature']>;
/** `url` is the full URL as the provider saw it; header names are lower-case (as node gives them). */
export type SignedRequest = { method: string; url: string; headers: Record<string, string | string[] | undefined>; rawBody: Buffer };
export type VerifyResult = { ok: true } | { ok: false; reason: string };

type Encoding = 'hex' | 'base64';

const OK: VerifyResult = { ok: true };
const fail = (reason: string): VerifyResult => ({ ok: false, reason });

const STRIPE_DEFAULT_TOLERANCE_SECONDS = 300;
const PLACEHOLDER = /\{(body|timestamp|method|url)\}/g;

/** The signature check a configuration uses: the first of `signatures` it picks, else `signature`. */
export function signatureFor(
  webhook: Pick<WebhookDefinition, 'signature' | 'signatures'> | undefined,
  configuration: Record<string, unknown>,
): SignatureDefinition | undefined {
  if (webhook?.signatures) return webhook.signatures.find((s) => configurationPicks(s, configuration));
  return webhook?.signature;
}

/** `verifySignature`, with the `jwt` scheme too (its check is asynchronous). */
export async function verifyWebhookSignature(cfg: SignatureConfig, secret: string | undefined, req: SignedRequest, nowMs: number): Promise<VerifyResult> {
  if (cfg.scheme !== 'jwt') return verifySignature(cfg, secret, req, nowMs);
  if (!secret) return fail('no secret configured');
  const token = /^Bearer\s+(\S+)$/i.exec(header(req, 'authorization') ?? '')?.[1];
  if (!token) return fail('missing Authorization: Bearer token');
  try {
    // exp and nbf are checked when the token has them, at the gateway's clock.
    await jwtVerify(token, new TextEncoder().encode(secret), { algorithms: ['HS256'], currentDate: new Date(nowMs) });
    return OK;
  } catch (err) {
    return fail(`JWT refused: ${(err as Error).message}`);
  }
}

export function verifySignature(cfg: SignatureConfig, secret: string | undefined, req: SignedRequest, nowMs: number): VerifyResult {
  if (cfg.scheme === 'none') return OK;
  if (!secret) return fail('no secret configured');
  switch (cfg.scheme) {
    case 'hmac':
      return verifyHmac(cfg, secret, req, nowMs);
    case 'github':
      return verifyBodyHmac(req, secret, 'X-Hub-Signature-256', 'hex', 'sha256=');
    case 'shopify':
      return verifyBodyHmac(req, secret, 'X-Shopify-Hmac-Sha256', 'base64');
    case 'stripe':
      return verifyStripe(cfg, secret, req, nowMs);
    case 'standard-webhooks':
      return verifyStandardWebhooks(secret, req);
    case 'shared-secret':
      return verifySharedSecret(cfg, secret, req);
    case 'jwt':
      return fail('the jwt scheme is checked by verifyWebhookSignature');
    default:
      return fail(`unknown signature scheme "${String((cfg as { scheme: unknown }).scheme)}"`);
  }
}

/**
 * Load-time check of a signature config, for what the JSON Schema cannot say; throws a
 * DefinitionError naming the problem. `verifySignature` refuses a request the same way at run time.
 */
export function validateSignatureConfig(cfg: SignatureConfig): void {
  const problem = configProblem(cfg);
  if (problem) throw new DefinitionError(problem);
}

function configProblem(cfg: SignatureConfig): string | undefined {
  if (cfg.scheme === 'shared-secret' && !cfg.header) return 'the shared-secret scheme needs "header", the header that carries the secret';
  if (cfg.scheme !== 'hmac') return undefined;
  if (!cfg.header) return 'the hmac scheme needs "header", the name of the signature header';
  const unknown = cfg.signedContent?.match(/\{[^}]*\}/g)?.find((p) => !['{body}', '{timestamp}', '{method}', '{url}'].includes(p));
  if (unknown) return `signedContent uses ${unknown}; the placeholders are {body}, {timestamp}, {method} and {url}`;
  if (!cfg.timestampHeader && cfg.signedContent?.includes('{timestamp}')) return 'signedContent uses {timestamp} but no timestampHeader is set';
  if (!cfg.timestampHeader && cfg.toleranceSeconds) return 'toleranceSeconds needs timestampHeader, the header that carries the timestamp';
  return undefined;
}

/** Generic HMAC: the signed content is the body, or `signedContent` with its placeholders filled. */
function verifyHmac(cfg: SignatureConfig, secret: string, req: SignedRequest, nowMs: number): VerifyResult {
  const problem = configProblem(cfg);
  if (problem) return fail(`signature config: ${problem}`);
  const headerName = cfg.header!;
  let signature = header(req, headerName);
  if (!signature) return fail(`missing header ${headerName}`);
  if (cfg.prefix) {
    if (!signature.startsWith(cfg.prefix)) return fail(`header ${headerName} does not start with "${cfg.prefix}"`);
    signature = signature.slice(cfg.prefix.length);
  }

  let timestamp: string | undefined;
  const usesTimestamp = Boolean(cfg.toleranceSeconds) || Boolean(cfg.signedContent?.includes('{timestamp}'));
  if (cfg.timestampHeader && usesTimestamp) {
    timestamp = header(req, cfg.timestampHeader);
    if (!timestamp) return fail(`missing header ${cfg.timestampHeader}`);
    if (cfg.toleranceSeconds) {
      const at = timestampMs(timestamp);
      if (at === undefined) return fail(`header ${cfg.timestampHeader} is not a timestamp`);
      if (Math.abs(nowMs - at) > cfg.toleranceSeconds * 1000) return fail('timestamp outside tolerance');
    }
  }

  const content = cfg.signedContent ? fillSignedContent(cfg.signedContent, req, timestamp ?? '') : req.rawBody;
  const expected = createHmac(cfg.algorithm ?? 'sha256', secret)
    .update(content)
    .digest();
  return signatureMatches(signature, expected, cfg.encoding ?? 'hex') ? OK : fail('signature mismatch');
}

/**
 * A provider that cannot sign (Freshdesk's automation webhooks) sends a secret header the user
 * typed into its rule: the header's value must equal the secret (compared in constant time).
 */
function verifySharedSecret(cfg: SignatureConfig, secret: string, req: SignedRequest): VerifyResult {
  const problem = configProblem(cfg);
  if (problem) return fail(`signature config: ${problem}`);
  const given = header(req, cfg.header!);
  if (!given) return fail(`missing header ${cfg.header}`);
  const a = createHmac('sha256', 'compare').update(given).digest();
  const b = createHmac('sha256', 'compare').update(secret).digest();
  return timingSafeEqual(a, b) ? OK : fail('signature mismatch');
}

/** GitHub and Shopify: an HMAC-SHA256 of the body alone, in a fixed header. */
function verifyBodyHmac(req: SignedRequest, secret: string, headerName: string, encoding: Encoding, prefix = ''): VerifyResult {
  const signature = header(req, headerName);
  if (!signature) return fail(`missing header ${headerName}`);
  if (!signature.startsWith(prefix)) return fail(`header ${headerName} does not start with "${prefix}"`);
  const expected = createHmac('sha256', secret).update(req.rawBody).digest();
  return signatureMatches(signature.slice(prefix.length), expected, encoding) ? OK : fail('signature mismatch');
}

/** `Stripe-Signature: t=<seconds>,v1=<hex>[,v1=<hex>…]` over `${t}.${body}`; any v1 may match. */
function verifyStripe(cfg: SignatureConfig, secret: string, req: SignedRequest, nowMs: number): VerifyResult {
  const value = header(req, 'stripe-signature');
  if (!value) return fail('missing header Stripe-Signature');
  let t: string | undefined;
  const v1: string[] = [];
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    if (key === 't') t = part.slice(eq + 1).trim();
    else if (key === 'v1') v1.push(part.slice(eq + 1).trim());
  }
  if (!t || !/^\d+$/.test(t) || v1.length === 0) return fail('malformed Stripe-Signature header: expected t=<seconds>,v1=<signature>');
  const tolerance = cfg.toleranceSeconds ?? STRIPE_DEFAULT_TOLERANCE_SECONDS;
  if (tolerance && Math.abs(nowMs - Number(t) * 1000) > tolerance * 1000) return fail('timestamp outside tolerance');
  const expected = createHmac('sha256', secret).update(`${t}.`).update(req.rawBody).digest();
  // Every candidate is compared, so the time taken does not reveal which one matched.
  const matched = v1.map((candidate) => signatureMatches(candidate, expected, 'hex'));
  return matched.includes(true) ? OK : fail('signature mismatch');
}

/** Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`), via the package. */
function verifyStandardWebhooks(secret: string, req: SignedRequest): VerifyResult {
  const headers: Record<string, string> = {};
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
    const value = header(req, name);
    if (!value) return fail(`missing header ${name}`);
    headers[name] = value;
  }
  let webhook: Webhook;
  try {
    webhook = new Webhook(secret);
  } catch (err) {
    return fail(`the standard-webhooks secret is not a valid whsec_ key: ${(err as Error).message}`);
  }
  try {
    // jsonParse: false — the package would otherwise parse the body, which may be XML or a form.
    webhook.verify(req.rawBody, headers, { jsonParse: false });
    return OK;
  } catch (err) {
    return fail(standardWebhooksReason((err as Error).message));
  }
}

/** The package's messages, mapped to the reasons the other schemes give. */
function standardWebhooksReason(message: string): string {
  if (/timestamp too (old|new)/i.test(message)) return 'timestamp outside tolerance';
  if (/no matching signature/i.test(message)) return 'signature mismatch';
  if (/invalid signature headers/i.test(message)) return 'header webhook-timestamp is not a timestamp';
  return `standard webhooks: ${message}`;
}

/** Builds the signed bytes from the template; the body goes in as its exact raw bytes. */
function fillSignedContent(template: string, req: SignedRequest, timestamp: string): Buffer {
  const parts: Buffer[] = [];
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    parts.push(Buffer.from(template.slice(last, match.index), 'utf8'));
    const name = match[1];
    if (name === 'body') parts.push(req.rawBody);
    else parts.push(Buffer.from(name === 'timestamp' ? timestamp : name === 'method' ? req.method.toUpperCase() : req.url, 'utf8'));
    last = match.index! + match[0].length;
  }
  parts.push(Buffer.from(template.slice(last), 'utf8'));
  return Buffer.concat(parts);
}

/** Decodes the given signature strictly and compares it with the expected digest in constant time. */
function signatureMatches(given: string, expected: Buffer, encoding: Encoding): boolean {
  const text = given.trim();
  const valid = encoding === 'hex' ? /^(?:[0-9a-fA-F]{2})+$/.test(text) : /^[A-Za-z0-9+/_-]+={0,2}$/.test(text);
  if (!valid) return false;
  const bytes = Buffer.from(text, encoding); // base64 decoding also accepts the URL-safe alphabet
  return bytes.length === expected.length && timingSafeEqual(bytes, expected);
}

/** A header by name, case-insensitively (names normally arrive lower-cased); the first of repeated ones. */
function header(req: SignedRequest, name: string): string | undefined {
  const lower = name.toLowerCase();
  let value = req.headers[lower];
  if (value === undefined) {
    const key = Object.keys(req.headers).find((k) => k.toLowerCase() === lower);
    value = key === undefined ? undefined : req.headers[key];
  }
  return Array.isArray(value) ? value[0] : value;
}

/**
 * A timestamp header as epoch ms. Numbers are epoch seconds (Stripe, Slack) or milliseconds
 * (HubSpot), told apart by size: below 1e11 is seconds (until the year 5138), above is ms (after
 * March 1973). Anything else is read as an ISO 8601 date (Zendesk).
 */
function timestampMs(value: string): number | undefined {
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
