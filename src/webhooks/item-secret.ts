import { timingSafeEqual } from 'node:crypto';
import type { WebhookDefinition } from '../connectors/schema.js';
import { firstMatch } from '../lib/json-path.js';
import { renderString } from '../templates/request-template.js';

/**
 * `events.webhook.itemSecret`: a secret the gateway gave the provider when subscribing (a client
 * state) that comes back in every item of a notification. Ingress refuses a body none of whose
 * items carries it; mapping drops the items that do not (a body may mix subscriptions).
 */
export type ItemSecretCheck = (item: unknown) => boolean;

/** The check for an instance, or undefined when the connector declares none or the secret renders empty. */
export function itemSecretCheck(webhook: WebhookDefinition | undefined, configuration: Record<string, unknown>): ItemSecretCheck | undefined {
  const declared = webhook?.itemSecret;
  if (!declared) return undefined;
  let secret: string;
  try {
    secret = renderString(declared.secret, { iparam: configuration, context: {} });
  } catch {
    return undefined;
  }
  if (!secret) return undefined;
  const expected = Buffer.from(secret, 'utf8');
  return (item) => {
    const value = item !== null && typeof item === 'object' ? firstMatch(item, declared.path) : undefined;
    if (typeof value !== 'string') return false;
    const actual = Buffer.from(value, 'utf8');
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  };
}
