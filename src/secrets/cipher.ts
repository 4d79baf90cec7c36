import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * AES-256-GCM for secrets at rest, with a key ring: the current key encrypts, every key of the
 * ring decrypts. Each key is derived (HKDF-SHA256) from key material of ≥ 32 characters —
 * `security.secretKey` (POLLGATE_SECRET_KEY), or a random key generated once into the data folder
 * when none is configured — and `security.previousSecretKeys` keeps old ones readable during a
 * rotation (`pollgate rekey` then re-encrypts everything with the current key).
 *
 * Stored form: `enc:v2:<key id>:<iv>:<tag>:<ciphertext>`, all base64url; the key id is a
 * fingerprint of the derived key, so it names the key without revealing it. `enc:v1:<iv>:<tag>:<ct>`
 * (before key ids) is still read by trying every key.
 */
const V1 = 'enc:v1:';
const V2 = 'enc:v2:';
const CIPHERTEXT = /^enc:v(?:1|2:[A-Za-z0-9_-]+):[A-Za-z0-9_-]*:[A-Za-z0-9_-]*:[A-Za-z0-9_-]*$/;

/** The key id a v1 ciphertext (written before key ids) reports. */
export const LEGACY_KEY_ID = 'v1';

export class UnreadableSecretError extends Error {
  constructor(
    readonly keyId: string,
    reason: string,
  ) {
    super(reason);
    this.name = 'UnreadableSecretError';
  }
}

interface RingKey {
  id: string;
  key: Buffer;
}

function deriveKey(material: string): RingKey {
  if (material.length < 32) throw new Error('a secret key must be at least 32 characters');
  const key = Buffer.from(hkdfSync('sha256', material, 'pollgate', 'secrets-at-rest v1', 32));
  const id = createHash('sha256').update('pollgate key id').update(key).digest('base64url').slice(0, 11);
  return { id, key };
}

export class SecretCipher {
  private readonly ring: RingKey[];

  /** `current` encrypts; `previous` keys are only read. */
  constructor(current: string, previous: readonly string[] = []) {
    const seen = new Set<string>();
    this.ring = [current, ...previous].map(deriveKey).filter((k) => !seen.has(k.id) && seen.add(k.id));
  }

  /** Uses the configured key, or the data folder's generated one (created on first start). */
  static fromConfig(secretKey: string | null, dataDir: string, previousKeys: readonly string[] = []): SecretCipher {
    if (secretKey) return new SecretCipher(secretKey, previousKeys);
    const file = join(dataDir, 'secret.key');
    if (!existsSync(file)) {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      writeFileSync(file, randomBytes(48).toString('base64url'), { mode: 0o600, flag: 'wx' });
    }
    chmodSync(file, 0o600);
    return new SecretCipher(readFileSync(file, 'utf8').trim(), previousKeys);
  }

  /** The id of the key that encrypts. */
  get currentKeyId(): string {
    return this.ring[0].id;
  }

  get keyIds(): string[] {
    return this.ring.map((k) => k.id);
  }

  encrypt(plain: string): string {
    const { id, key } = this.ring[0];
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${V2}${id}:${iv.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}:${ct.toString('base64url')}`;
  }

  /** Throws `UnreadableSecretError` when no key of the ring opens the value. */
  decrypt(stored: string): string {
    const keyId = SecretCipher.keyIdOf(stored);
    if (keyId === undefined) throw new UnreadableSecretError('', 'the stored value is not a ciphertext');
    const parts = stored.split(':');
    if (keyId === LEGACY_KEY_ID) {
      for (const { key } of this.ring) {
        const plain = open(key, parts.slice(2));
        if (plain !== undefined) return plain;
      }
      throw new UnreadableSecretError(keyId, 'no key of the key ring decrypts this value');
    }
    const ringKey = this.ring.find((k) => k.id === keyId);
    if (!ringKey) throw new UnreadableSecretError(keyId, `the value was encrypted with key ${keyId}, which is not in the key ring`);
    const plain = open(ringKey.key, parts.slice(3));
    if (plain === undefined) throw new UnreadableSecretError(keyId, `the value does not decrypt with key ${keyId} (damaged)`);
    return plain;
  }

  /** Whether a ciphertext is readable, without giving its plaintext out. */
  canDecrypt(stored: string): boolean {
    try {
      this.decrypt(stored);
      return true;
    } catch {
      return false;
    }
  }

  /** The key id of a stored ciphertext (`v1` for one without), or undefined for anything else. */
  static keyIdOf(value: unknown): string | undefined {
    if (typeof value !== 'string' || !CIPHERTEXT.test(value)) return undefined;
    return value.startsWith(V1) ? LEGACY_KEY_ID : value.split(':')[2];
  }
}

function open(key: Buffer, [iv, tag, ct]: string[]): string | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
