import { createHmac, timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { jwtVerify } from 'jose';
import type { SignatureDefinition, WebhookDefinition } from '../connectors/schema.js';
import { configurationPicks } from '../connectors/auth-alternatives.js';
import { DefinitionError } from '../errors.js';
import { compileJsonPath, firstMatch } from '../lib/json-path.js';
import { fillSignedContent, header, signatureMatches, templateProblem, timestampProblem, usesTimestamp, type SignedRequest } from './signed-content.js';

/**
 * Verifying a provider's signature over the exact raw body bytes, for the schemes a connector may
 * declare (docs/connectors.md "Webhooks"): `hmac` (an HMAC over a template of request parts, in a
 * header, with optional prefix and timestamp tolerance; the timestamp in a header or the JSON body), `hmac-parts` (a header of `key=value`
 * parts carrying a timestamp and one or more signatures), `shared-secret` (a header equal to the
 * secret), `standard-webhooks`, `jwt` (an `Authorization: Bearer` JWT signed HS256 with the
 * secret, checked by `jose`), or `none`. Signatures are decoded to bytes and compared with
 * `timingSafeEqual` after a length check.
 *
 * Timestamps are checked against the `nowMs` the caller passes (the gateway's clock); without
 * `toleranceSeconds` (or with 0) they are not checked. The one exception is `standard-webhooks`:
 * the `standardwebhooks` package checks its own 5-minute tolerance against the real clock
 * (`Date.now()`), so `nowMs` and `toleranceSeconds` do not apply to that scheme.
 */

/** A connector's `events.webhook.signature` (its `secret` template is rendered by the caller). */
export type SignatureConfig = NonNullable<WebhookDefinition['signature']>;
export type { SignedRequest } from './signed-content.js';
export type VerifyResult = { ok: true } | { ok: false; reason: string };

const OK: VerifyResult = { ok: true };
const fail = (reason: string): VerifyResult => ({ ok: false, reason });

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
    case 'hmac-parts':
      return verifyHmacParts(cfg, secret, req, nowMs);
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
  if (cfg.scheme !== 'hmac' && cfg.scheme !== 'hmac-parts') {
    const stray = HMAC_FIELDS.find((key) => cfg[key] !== undefined && !(key === 'header' && cfg.scheme === 'shared-secret'));
    return stray ? `"${stray}" applies to the hmac and hmac-parts schemes, not to "${cfg.scheme}"` : undefined;
  }
  if (!cfg.header) return `the ${cfg.scheme} scheme needs "header", the name of the signature header`;
  const template = cfg.signedContent && templateProblem(cfg.signedContent);
  if (template) return template;
  if (cfg.scheme === 'hmac') {
    if (cfg.parts) return '"parts" applies to the hmac-parts scheme; the hmac scheme reads the whole header as the signature';
    if (cfg.timestampHeader && cfg.timestampPath) return 'timestampHeader and timestampPath cannot be combined: the timestamp is in a header or in the body';
    const timestampSource = cfg.timestampHeader ?? cfg.timestampPath;
    if (!timestampSource && usesTimestamp(cfg.signedContent)) return 'signedContent uses {timestamp} but no timestampHeader (or timestampPath) is set';
    if (!timestampSource && cfg.toleranceSeconds)
      return 'toleranceSeconds needs timestampHeader, the header that carries the timestamp (or timestampPath, where the JSON body carries it)';
    if (cfg.timestampPath) {
      try {
        compileJsonPath(cfg.timestampPath, 'timestampPath');
      } catch (err) {
        return (err as Error).message;
      }
    }
    return undefined;
  }
  if (!cfg.parts?.signature) return 'the hmac-parts scheme needs "parts": {"signature": <key>, "timestamp": <key>}, the keys of the header\'s key=value parts';
  if (cfg.timestampHeader || cfg.timestampPath)
    return `"${cfg.timestampHeader ? 'timestampHeader' : 'timestampPath'}" applies to the hmac scheme; with hmac-parts the timestamp is the part named by parts.timestamp`;
  if (!cfg.parts.timestamp && usesTimestamp(cfg.signedContent)) return 'signedContent uses {timestamp} but parts.timestamp is not set';
  if (!cfg.parts.timestamp && cfg.toleranceSeconds) return 'toleranceSeconds needs parts.timestamp, the key of the part that carries the timestamp';
  return undefined;
}

const HMAC_FIELDS = [
  'algorithm',
  'header',
  'encoding',
  'secretEncoding',
  'prefix',
  'signedContent',
  'timestampHeader',
  'timestampPath',
  'toleranceSeconds',
  'parts',
] as const;

/** The HMAC of the signed content (the body, or `signedContent` filled), or why it cannot be made. */
function expectedDigest(cfg: SignatureConfig, secret: string, req: SignedRequest, timestamp: string): { digest: Buffer } | { problem: string } {
  const key = hmacKey(cfg, secret);
  if (!key) return { problem: 'the secret is not valid base64 (secretEncoding "base64")' };
  if (!cfg.signedContent)
    return {
      digest: createHmac(cfg.algorithm ?? 'sha256', key)
        .update(req.rawBody)
        .digest(),
    };
  const content = fillSignedContent(cfg.signedContent, req, timestamp);
  if ('missingHeader' in content) return { problem: `missing header ${content.missingHeader}` };
  return {
    digest: createHmac(cfg.algorithm ?? 'sha256', key)
      .update(content.bytes)
      .digest(),
  };
}

/**
 * The HMAC key: the secret's UTF-8 bytes, or — `secretEncoding: "base64"`, for providers that hand
 * out the key base64-encoded and sign with the decoded bytes — the bytes it encodes (undefined when
 * it is not base64: a malformed key must not silently become another key).
 */
function hmacKey(cfg: SignatureConfig, secret: string): Buffer | string | undefined {
  if (cfg.secretEncoding !== 'base64') return secret;
  const compact = secret.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0 || compact.length === 0) return undefined;
  return Buffer.from(compact, 'base64');
}

/** `hmac`: the whole header (after `prefix`) is the signature; the timestamp, if any, has a header of its own. */
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

  let timestamp = '';
  if ((cfg.timestampHeader || cfg.timestampPath) && (cfg.toleranceSeconds || usesTimestamp(cfg.signedContent))) {
    const found = cfg.timestampHeader ? header(req, cfg.timestampHeader) : bodyTimestamp(req.rawBody, cfg.timestampPath!);
    const where = cfg.timestampHeader ? `header ${cfg.timestampHeader}` : `${cfg.timestampPath} in the body`;
    if (!found) return fail(`missing ${where}`);
    timestamp = found;
    const late = timestampProblem(timestamp, where, nowMs, cfg.toleranceSeconds);
    if (late) return fail(late);
  }

  const expected = expectedDigest(cfg, secret, req, timestamp);
  if ('problem' in expected) return fail(expected.problem);
  return signatureMatches(signature, expected.digest, cfg.encoding ?? 'hex') ? OK : fail('signature mismatch');
}

/** A timestamp at `path` in a JSON body, as text; undefined when the body is not JSON or has none there. */
function bodyTimestamp(rawBody: Buffer, path: string): string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(rawBody.toString('utf8'));
  } catch {
    return undefined;
  }
  const value = firstMatch(json, path);
  return typeof value === 'number' || typeof value === 'string' ? String(value) : undefined;
}

/**
 * `hmac-parts`: one header of comma-separated `key=value` parts — the timestamp under
 * `parts.timestamp` and signatures under `parts.signature`, which may repeat (a provider rolling
 * its secret signs with both); any of them may match. Parts with other keys are ignored.
 */
function verifyHmacParts(cfg: SignatureConfig, secret: string, req: SignedRequest, nowMs: number): VerifyResult {
  const problem = configProblem(cfg);
  if (problem) return fail(`signature config: ${problem}`);
  const headerName = cfg.header!;
  const keys = cfg.parts!;
  const value = header(req, headerName);
  if (!value) return fail(`missing header ${headerName}`);
  let timestamp: string | undefined;
  const signatures: string[] = [];
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    if (keys.timestamp && key === keys.timestamp) timestamp = part.slice(eq + 1).trim();
    else if (key === keys.signature) signatures.push(part.slice(eq + 1).trim());
  }
  const shape = [keys.timestamp && `${keys.timestamp}=<timestamp>`, `${keys.signature}=<signature>`].filter(Boolean).join(',');
  if ((keys.timestamp && !timestamp) || signatures.length === 0) return fail(`malformed ${headerName} header: expected ${shape}`);
  const late = timestamp === undefined ? undefined : timestampProblem(timestamp, `the ${keys.timestamp}= part of ${headerName}`, nowMs, cfg.toleranceSeconds);
  if (late) return fail(late);

  const expected = expectedDigest(cfg, secret, req, timestamp ?? '');
  if ('problem' in expected) return fail(expected.problem);
  // Every candidate is compared, so the time taken does not reveal which one matched.
  const matched = signatures.map((candidate) => signatureMatches(candidate, expected.digest, cfg.encoding ?? 'hex'));
  return matched.includes(true) ? OK : fail('signature mismatch');
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
