import { createHmac, timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { WebhookDefinition } from '../connectors/schema.js';

/**
 * Verifying a provider's signature over the exact raw body bytes, for the schemes a connector may
 * declare: generic HMAC (with optional prefix, signed-content template and timestamp tolerance),
 * GitHub, Stripe, Shopify, Standard Webhooks, or none. Comparisons are constant-time.
 */
/** A connector's `events.webhook.signature` (its `secret` template is rendered by the caller). */
export type SignatureConfig = NonNullable<WebhookDefinition['signature']>;
export type SignedRequest = { method: string; url: string; headers: Record<string, string | string[] | undefined>; rawBody: Buffer };
export type VerifyResult = { ok: true } | { ok: false; reason: string };

const OK: VerifyResult = { ok: true };
const fail = (reason: string): VerifyResult => ({ ok: false, reason });

function header(req: SignedRequest, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function hmac(algorithm: string, secret: string, content: Buffer | string, encoding: 'hex' | 'base64'): string {
  return createHmac(algorithm, secret).update(content).digest(encoding);
}

/** Seconds or milliseconds since the epoch, as providers send either. */
function timestampMs(value: string): number {
  const n = Number(value);
  return n > 1e12 ? n : n * 1000;
}

function withinTolerance(ts: string, toleranceSeconds: number, nowMs: number): boolean {
  const t = timestampMs(ts);
  return Number.isFinite(t) && Math.abs(nowMs - t) <= toleranceSeconds * 1000;
}

export function verifySignature(cfg: SignatureConfig, secret: string | undefined, req: SignedRequest, nowMs: number): VerifyResult {
  if (cfg.scheme === 'none') return OK;
  if (!secret) return fail('no secret configured');
  switch (cfg.scheme) {
    case 'hmac':
      return verifyHmac(cfg, secret, req, nowMs);
    case 'github': {
      const sig = header(req, 'x-hub-signature-256');
      if (!sig) return fail('missing header X-Hub-Signature-256');
      return safeEqual(sig, `sha256=${hmac('sha256', secret, req.rawBody, 'hex')}`) ? OK : fail('signature mismatch');
    }
    case 'shopify': {
      const sig = header(req, 'x-shopify-hmac-sha256');
      if (!sig) return fail('missing header X-Shopify-Hmac-Sha256');
      return safeEqual(sig, hmac('sha256', secret, req.rawBody, 'base64')) ? OK : fail('signature mismatch');
    }
    case 'stripe':
      return verifyStripe(cfg, secret, req, nowMs);
    case 'standard-webhooks': {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v[0] : v ?? '']));
      if (!headers['webhook-signature']) return fail('missing header webhook-signature');
      try {
        // The package checks its own timestamp tolerance (5 minutes) against the real clock.
        new Webhook(secret).verify(req.rawBody.toString('utf8'), headers);
        return OK;
      } catch (err) {
        return fail(`standard webhooks: ${(err as Error).message}`);
      }
    }
    default:
      return fail(`unknown signature scheme ${String(cfg.scheme)}`);
  }
}

function verifyHmac(cfg: SignatureConfig, secret: string, req: SignedRequest, nowMs: number): VerifyResult {
  const name = cfg.header ?? 'x-signature';
  let sig = header(req, name);
  if (!sig) return fail(`missing header ${name}`);
  if (cfg.prefix) {
    if (!sig.startsWith(cfg.prefix)) return fail(`signature does not start with "${cfg.prefix}"`);
    sig = sig.slice(cfg.prefix.length);
  }
  let content: Buffer | string = req.rawBody;
  let timestamp: string | undefined;
  if (cfg.timestampHeader) {
    timestamp = header(req, cfg.timestampHeader);
    if (!timestamp) return fail(`missing header ${cfg.timestampHeader}`);
    if (cfg.toleranceSeconds !== undefined && !withinTolerance(timestamp, cfg.toleranceSeconds, nowMs)) return fail('timestamp outside tolerance');
  }
  if (cfg.signedContent) {
    const body = req.rawBody.toString('utf8');
    content = cfg.signedContent.replace(/\{(body|timestamp|method|url)\}/g, (_m, k: string) =>
      k === 'body' ? body : k === 'timestamp' ? timestamp ?? '' : k === 'method' ? req.method.toUpperCase() : req.url,
    );
  }
  const expected = hmac(cfg.algorithm ?? 'sha256', secret, content, cfg.encoding ?? 'hex');
  const matches = cfg.encoding === 'base64' ? safeEqual(sig, expected) : safeEqual(sig.toLowerCase(), expected);
  return matches ? OK : fail('signature mismatch');
}

function verifyStripe(cfg: SignatureConfig, secret: string, req: SignedRequest, nowMs: number): VerifyResult {
  const sig = header(req, 'stripe-signature');
  if (!sig) return fail('missing header Stripe-Signature');
  const parts = sig.split(',').map((p) => p.trim().split('='));
  const t = parts.find(([k]) => k === 't')?.[1];
  const v1 = parts.filter(([k]) => k === 'v1').map(([, v]) => v);
  if (!t || v1.length === 0) return fail('malformed Stripe-Signature header');
  if (!withinTolerance(t, cfg.toleranceSeconds ?? 300, nowMs)) return fail('timestamp outside tolerance');
  const expected = hmac('sha256', secret, `${t}.${req.rawBody.toString('utf8')}`, 'hex');
  return v1.some((v) => safeEqual(v, expected)) ? OK : fail('signature mismatch');
}
