import { compileJsonPath } from '../lib/json-path.js';

/**
 * Finding records and ids in a provider's answer: `recordsPath` (JSONPath) or, by default, the
 * body when it is an array, else its first array field; ids by a dotted `idField`.
 */
export function extractRecords(body: unknown, recordsPath?: string): Record<string, unknown>[] {
  if (recordsPath) {
    const found = compileJsonPath(recordsPath).all(body);
    // `$.results` selects the array itself; `$.results[*]` its elements: accept both.
    const items = found.length === 1 && Array.isArray(found[0]) ? (found[0] as unknown[]) : found;
    return items.filter(isObject);
  }
  if (Array.isArray(body)) return body.filter(isObject);
  if (isObject(body)) {
    for (const value of Object.values(body)) if (Array.isArray(value)) return value.filter(isObject);
  }
  return [];
}

export function readDotted(record: Record<string, unknown>, path: string): unknown {
  let value: unknown = record;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
