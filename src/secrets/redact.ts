import { type SecretCipher, UnreadableSecretError } from './cipher.js';

/**
 * Which configuration values are secrets: the connector's fields marked `secret: true`, any key
 * that names one, and every callback header except a few plainly harmless ones. One rule for
 * storage, answers and logs.
 */
export const REDACTED = '********';
const SECRET_KEY_PATTERN =
  /secret|password|passwd|token|api[._-]?key|signature\.key|private|credential|session|cookie|refresh(?![._-]?interval)|(^|[._-])o?auth([._-]|$)/i;
/** Keys the pattern catches that name a setting, not a secret (`auth` is in `oauth.*` and `callback.auth`). */
const NOT_SECRET_KEYS = new Set(['event.notification.callback.auth', 'oauth.callback.url', 'oauth.scope', 'oauth.base.url']);
/** Callback headers shown in answers; any other callback header's value is treated as a secret. */
const PLAIN_CALLBACK_HEADERS = new Set(['accept', 'accept-language', 'content-language', 'content-type', 'user-agent']);

export function isSecretKey(key: string, connectorSecrets: ReadonlySet<string>): boolean {
  return connectorSecrets.has(key) || (SECRET_KEY_PATTERN.test(key) && !NOT_SECRET_KEYS.has(key));
}

type Configuration = Record<string, unknown>;
const CALLBACK_HEADERS = 'event.notification.callback.headers';

/** How a secret is kept inside the stored configuration JSON: a wrapper nobody can send in. */
export interface EncryptedValue {
  $enc: string;
}

/** Only `encryptConfiguration` makes these: every secret the API receives is wrapped, whatever it looks like. */
export function isEncryptedValue(value: unknown): value is EncryptedValue {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.keys(value).length === 1 &&
    typeof (value as EncryptedValue).$enc === 'string'
  );
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Applies `fn` to every secret value (top-level secret keys, and callback headers not known to be plain). */
function mapSecrets(config: Configuration, secrets: ReadonlySet<string>, fn: (v: unknown, key: string) => unknown): Configuration {
  const out: Configuration = {};
  for (const [key, value] of Object.entries(config)) {
    if (key === CALLBACK_HEADERS && isPlainObject(value)) {
      out[key] = Object.fromEntries(
        Object.entries(value).map(([h, v]) => [h, PLAIN_CALLBACK_HEADERS.has(h.toLowerCase()) || v === null || v === undefined ? v : fn(v, `${key}.${h}`)]),
      );
    } else if (isSecretKey(key, secrets) && value !== null && value !== undefined && value !== '') {
      out[key] = fn(value, key);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** Every secret value is encrypted — a value that merely looks like ciphertext is encrypted too. */
export function encryptConfiguration(config: Configuration, secrets: ReadonlySet<string>, cipher: SecretCipher): Configuration {
  return mapSecrets(config, secrets, (v) => ({ $enc: cipher.encrypt(typeof v === 'string' ? v : JSON.stringify(v)) }) satisfies EncryptedValue);
}

/**
 * Opens every wrapped value (wherever it is: a key that stops being secret still decrypts). A value
 * no key opens is left out and named in `unreadable`, so one damaged row is that row's problem.
 */
export function decryptConfiguration(stored: Configuration, cipher: SecretCipher): { configuration: Configuration; unreadable: string[] } {
  const unreadable: string[] = [];
  const open = (value: unknown, key: string): unknown => {
    if (!isEncryptedValue(value)) return value;
    try {
      return cipher.decrypt(value.$enc);
    } catch (err) {
      if (!(err instanceof UnreadableSecretError)) throw err;
      unreadable.push(key);
      return undefined;
    }
  };
  const configuration: Configuration = {};
  for (const [key, value] of Object.entries(stored)) {
    const plain =
      key === CALLBACK_HEADERS && isPlainObject(value)
        ? Object.fromEntries(Object.entries(value).map(([h, v]) => [h, open(v, `${key}.${h}`)]))
        : open(value, key);
    if (plain !== undefined) configuration[key] = plain;
  }
  return { configuration, unreadable };
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
