import type { Knex } from 'knex';
import { DefinitionError } from '../errors.js';
import { SecretCipher } from './cipher.js';

/**
 * Where ciphertext lives in the database, for the start-up key check and `pollgate rekey`. A column
 * holds either one ciphertext (`whole`) or JSON with `{"$enc": "<ciphertext>"}` wrappers inside.
 * A new encrypted column is added here.
 */
export const ENCRYPTED_COLUMNS: ReadonlyArray<{ table: string; column: string; whole: boolean; key?: string }> = [
  { table: 'instances', column: 'signing_secrets', whole: true },
  { table: 'instances', column: 'webhook_token_encrypted', whole: true },
  { table: 'instances', column: 'configuration', whole: false },
  { table: 'webhook_deregistrations', column: 'configuration', whole: false },
  { table: 'instance_auth', column: 'tokens', whole: true, key: 'instance_id' },
];

const CT = 'enc:v(?:1|2:[A-Za-z0-9_-]+):[A-Za-z0-9_-]*:[A-Za-z0-9_-]*:[A-Za-z0-9_-]*';
// A wrapper as JSON.stringify writes it; a user's string containing this text has its quotes escaped.
const WRAPPED = new RegExp(`\\{"\\$enc":"(${CT})"\\}`, 'g');

function ciphertextsIn(text: string, whole: boolean): string[] {
  if (whole) return SecretCipher.keyIdOf(text) ? [text] : [];
  return [...text.matchAll(WRAPPED)].map((m) => m[1]);
}

const BATCH = 500;

/** Walks every row of every encrypted column in id order, a batch at a time. */
async function eachRow(
  db: Knex,
  fn: (table: string, key: string, column: string, whole: boolean, row: { id: number; value: string }) => Promise<void>,
): Promise<void> {
  for (const { table, column, whole, key = 'id' } of ENCRYPTED_COLUMNS) {
    if (!(await db.schema.hasTable(table))) continue;
    for (let after = 0; ; ) {
      const rows = (await db(table)
        .where(key, '>', after)
        .whereNotNull(column)
        .orderBy(key)
        .limit(BATCH)
        .select(`${key} as id`, `${column} as value`)) as Array<{ id: number; value: string }>;
      for (const row of rows) await fn(table, key, column, whole, row);
      if (rows.length < BATCH) break;
      after = rows[rows.length - 1].id;
    }
  }
}

/**
 * Start-up check: every key id found in the data must be in the key ring (and one value of each
 * must decrypt), or start-up stops naming the missing keys — rather than every read failing later
 * while /health says ok.
 */
export async function checkKeysReadData(db: Knex, cipher: SecretCipher): Promise<void> {
  const sampleByKey = new Map<string, string>();
  const counts = new Map<string, number>();
  await eachRow(db, async (_table, _key, _column, whole, row) => {
    for (const ct of ciphertextsIn(row.value, whole)) {
      const keyId = SecretCipher.keyIdOf(ct)!;
      if (!sampleByKey.has(keyId)) sampleByKey.set(keyId, ct);
      counts.set(keyId, (counts.get(keyId) ?? 0) + 1);
    }
  });
  const unreadable = [...sampleByKey].filter(([, sample]) => !cipher.canDecrypt(sample)).map(([keyId]) => `${keyId} (${counts.get(keyId)} values)`);
  if (unreadable.length > 0) {
    throw new DefinitionError(
      `the stored secrets were encrypted with key(s) ${unreadable.join(', ')} that the configured keys (${cipher.keyIds.join(', ')}) cannot read: ` +
        'set POLLGATE_SECRET_KEY (security.secretKey) to the key in use, or add it to security.previousSecretKeys (POLLGATE_PREVIOUS_SECRET_KEYS) and run `pollgate rekey`',
    );
  }
}

export interface RekeyResult {
  /** Values re-encrypted with the current key. */
  rekeyed: number;
  /** Values already under the current key. */
  current: number;
  /** Values no key of the ring opens, left as they are: `table.column#id`. */
  unreadable: string[];
}

/** Re-encrypts every stored secret with the current key (after which previous keys can be dropped). */
export async function rekey(db: Knex, cipher: SecretCipher): Promise<RekeyResult> {
  const result: RekeyResult = { rekeyed: 0, current: 0, unreadable: [] };
  await eachRow(db, async (table, key, column, whole, row) => {
    let changed = false;
    const reencrypt = (ct: string): string => {
      if (SecretCipher.keyIdOf(ct) === cipher.currentKeyId) {
        result.current += 1;
        return ct;
      }
      if (!cipher.canDecrypt(ct)) {
        result.unreadable.push(`${table}.${column}#${row.id}`);
        return ct;
      }
      changed = true;
      result.rekeyed += 1;
      return cipher.encrypt(cipher.decrypt(ct));
    };
    const value = whole ? reencrypt(row.value) : row.value.replace(WRAPPED, (_m, ct: string) => JSON.stringify({ $enc: reencrypt(ct) }));
    // Only if unchanged since read: a concurrent write (already under the current key) wins.
    if (changed)
      await db(table)
        .where({ [key]: row.id, [column]: row.value })
        .update({ [column]: value });
  });
  return result;
}
