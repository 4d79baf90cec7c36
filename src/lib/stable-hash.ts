import { hash } from 'node:crypto';

// Content hashing that ignores key order: change detection (poller, webhook reconciliation) compares
// these. The poller hashes every record it fetches, so this is on its hot path.

/** `"key":` per key name: records of one listing share their keys. Bounded, for odd payloads. */
const keyPrefixes = new Map<string, string>();

function keyPrefix(key: string): string {
  let prefix = keyPrefixes.get(key);
  if (prefix === undefined) {
    prefix = `${JSON.stringify(key)}:`;
    if (keyPrefixes.size < 10_000) keyPrefixes.set(key, prefix);
  }
  return prefix;
}

/** JSON with keys sorted at every level, so the same record always hashes the same. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + stableStringify(value[i]);
    return `${out}]`;
  }
  const keys = Object.keys(value);
  // A provider's records usually come with their keys in one order: sort only when needed.
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1] > keys[i]) {
      keys.sort();
      break;
    }
  }
  let out = '{';
  for (const key of keys) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined) continue;
    if (out.length > 1) out += ',';
    out += keyPrefix(key) + (typeof v === 'string' ? JSON.stringify(v) : stableStringify(v));
  }
  return `${out}}`;
}

export function hashRecord(record: unknown): string {
  return hash('sha1', stableStringify(record));
}
