import { SecretCipher } from './cipher.js';

/**
 * Which configuration values are secrets: the connector's fields marked `secret: true`, and any
 * key that names one (DESIGN.md "Instance JSON"). One rule for storage, answers and logs.
 */
export const REDACTED = '********';
const SECRET_KEY_PATTERN = /secret|password|passwd|token|api[._-]?key|signature\.key|private[._-]?key|credential/i;
const SECRET_HEADER_PATTERN = /authorization|token|secret|key|signature|cookie/i;

export function isSecretKey(key: string, connectorSecrets: ReadonlySet<string>): boolean {
  return connectorSecrets.has(key) || SECRET_KEY_PATTERN.test(key);
}

type Configuration = Record<string, unknown>;
const CALLBACK_HEADERS = 'event.notification.callback.headers';

/** Applies `fn` to every secret value (top-level secret keys, and secret-looking callback headers). */
function mapSecrets(config: Configuration, secrets: ReadonlySet<string>, fn: (v: string) => string): Configuration {
  const out: Configuration = {};
  for (const [key, value] of Object.entries(config)) {
    if (key === CALLBACK_HEADERS && value && typeof value === 'object' && !Array.isArray(value)) {
      out[key] = Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([h, v]) => [h, SECRET_HEADER_PATTERN.test(h) && typeof v === 'string' ? fn(v) : v]),
      );
    } else if (isSecretKey(key, secrets) && value !== null && value !== undefined && value !== '') {
      out[key] = fn(typeof value === 'string' ? value : JSON.stringify(value));
    } else {
      out[key] = value;
    }
  }
  return out;
}

export function encryptConfiguration(config: Configuration, secrets: ReadonlySet<string>, cipher: SecretCipher): Configuration {
  return mapSecrets(config, secrets, (v) => (SecretCipher.isEncrypted(v) ? v : cipher.encrypt(v)));
}

export function decryptConfiguration(config: Configuration, secrets: ReadonlySet<string>, cipher: SecretCipher): Configuration {
  return mapSecrets(config, secrets, (v) => cipher.decrypt(v));
}

export function redactConfiguration(config: Configuration, secrets: ReadonlySet<string>): Configuration {
  return mapSecrets(config, secrets, () => REDACTED);
}

/** Replaces every occurrence of the given secret values in a text (URLs, error messages, logs). */
export function redactText(text: string, secretValues: Iterable<string>): string {
  let out = text;
  for (const value of secretValues) {
    if (value && value.length >= 4) out = out.split(value).join(REDACTED);
  }
  return out;
}
