import { createHash } from 'node:crypto';

// Content hashing that ignores key order: change detection (poller, webhook reconciliation) compares these.

/** JSON with keys sorted at every level, so the same record always hashes the same. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const keys = Object.keys(value as object).sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const v = (value as Record<string, unknown>)[keys[i]];
    if (v === undefined) continue;
    if (out.length > 1) out += ',';
    out += `${JSON.stringify(keys[i])}:${stableStringify(v)}`;
  }
  return `${out}}`;
}

export function hashRecord(record: unknown): string {
  return createHash('sha1').update(stableStringify(record)).digest('hex');
}
