import { compileJsonPath, containersOf } from '../lib/json-path.js';

/**
 * Finding records and ids in a provider's answer: `recordsPath` (JSONPath) or, by default, the
 * body when it is an array, else its first array field. Ids and dates are read with lib/json-path.ts.
 */

/**
 * The records of one page, or `undefined` when the page holds no listing where the connector says
 * its records are. An empty listing still names its place: `[]`, or `{"data": []}` for `$.data[*]`.
 * - A path ending in a selector of elements (`$.data[*]`, a filter, a slice) needs the array it
 *   selects from (an object of records, `$.data.*`, counts when it holds some).
 * - Another path needs its node: an array (its elements are the records) or an object (one record).
 * - Without a path the body must be an array, or an object with an array field.
 */
export function extractRecords(body: unknown, recordsPath?: string): Record<string, unknown>[] | undefined {
  if (recordsPath) {
    const path = compileJsonPath(recordsPath);
    const found = path.all(body);
    if (path.selectsElements) {
      const records = found.filter(isObject);
      const containers = containersOf(recordsPath, body);
      const listed = containers.length > 0 && containers.every((c) => Array.isArray(c) || (isObject(c) && records.length > 0));
      return listed ? records : undefined;
    }
    if (found.length === 0 || !found.every((v) => Array.isArray(v) || isObject(v))) return undefined;
    // `$.results` selects the array itself; `$.results[*]` its elements: accept both.
    const items = found.length === 1 && Array.isArray(found[0]) ? (found[0] as unknown[]) : found;
    return items.filter(isObject);
  }
  if (Array.isArray(body)) return body.filter(isObject);
  if (isObject(body)) {
    for (const value of Object.values(body)) if (Array.isArray(value)) return value.filter(isObject);
  }
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
