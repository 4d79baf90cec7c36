import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { SigningSecretEntry } from '../instances/store.js';

/**
 * Signatures on every callback: Standard Webhooks (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature: v1,<base64>`, with every signing secret still valid, so receivers keep
 * verifying through a rotation) and, with `event.notification.signature.key`, Cloud Elements'
 * `Elements-Webhook-Signature: sha256=<base64 HMAC-SHA256 of the exact body>`.
 */
export type SigningSecret = SigningSecretEntry;

export const newSigningSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;

export function activeSecrets(secrets: SigningSecret[], now: number): SigningSecret[] {
  return secrets.filter((s) => s.expiresAt === null || s.expiresAt > now);
}

export function signatureHeaders(o: { id: string; body: string; now: number; secrets: SigningSecret[]; signatureKey: string | null }): Record<string, string> {
  const at = new Date(Math.floor(o.now / 1000) * 1000);
  const headers: Record<string, string> = {
    'webhook-id': o.id,
    'webhook-timestamp': String(Math.floor(o.now / 1000)),
    'webhook-signature': activeSecrets(o.secrets, o.now)
      .map((s) => new Webhook(s.secret).sign(o.id, at, o.body))
      .join(' '),
  };
  if (o.signatureKey) headers['elements-webhook-signature'] = `sha256=${createHmac('sha256', o.signatureKey).update(o.body).digest('base64')}`;
  return headers;
}
