import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * AES-256-GCM for secrets at rest. The key is derived (HKDF-SHA256) from POLLGATE_SECRET_KEY, or
 * from a random key generated once into the data folder (mode 0600) when none is configured.
 * Stored form: `enc:v1:<iv>:<tag>:<ciphertext>`, all base64url.
 */
const PREFIX = 'enc:v1:';

export class SecretCipher {
  private readonly key: Buffer;

  constructor(secretKey: string) {
    if (secretKey.length < 32) throw new Error('the secret key must be at least 32 characters');
    this.key = Buffer.from(hkdfSync('sha256', secretKey, 'pollgate', 'secrets-at-rest v1', 32));
  }

  /** Uses the configured key, or the data folder's generated one (created on first start). */
  static fromConfig(secretKey: string | null, dataDir: string): SecretCipher {
    if (secretKey) return new SecretCipher(secretKey);
    const file = join(dataDir, 'secret.key');
    if (!existsSync(file)) {
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(file, randomBytes(48).toString('base64url'), { mode: 0o600, flag: 'wx' });
    }
    chmodSync(file, 0o600);
    return new SecretCipher(readFileSync(file, 'utf8').trim());
  }

  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${PREFIX}${iv.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}:${ct.toString('base64url')}`;
  }

  decrypt(stored: string): string {
    if (!SecretCipher.isEncrypted(stored)) return stored;
    const [iv, tag, ct] = stored.slice(PREFIX.length).split(':').map((p) => Buffer.from(p, 'base64url'));
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ct), decipher.final()]).toString('utf8');
  }

  static isEncrypted(value: unknown): value is string {
    return typeof value === 'string' && value.startsWith(PREFIX);
  }
}
