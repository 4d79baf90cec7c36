import { compileJsonPath } from '../lib/json-path.js';
import type { DeltaDefinition } from './schema.js';

/**
 * The format of delta tokens (docs/connectors.md "Delta tokens"): a poller object whose listing is
 * "what changed since the token the last complete listing ended with". This half is the format — its
 * checks; storing, sending and expiring the token is the poller's (poller/delta.ts).
 */
export interface DeltaProblem {
  key: string;
  message: string;
}

/** The status an expired token is answered with when the definition names none (HTTP 410 Gone). */
export const DEFAULT_EXPIRED_STATUS = [410];

/**
 * The problems of a `delta` definition, each with the key it concerns: malformed paths, a token
 * parameter the object's URL or full-sync query already sets, and what a delta listing cannot be
 * combined with (a GraphQL listing, a deleted listing: the token covers deletions). With `events`
 * the listing is an event log read from a cursor (docs/connectors.md "Change logs read from a cursor").
 */
export function deltaProblems(def: DeltaDefinition | undefined, object: Record<string, unknown> = {}): DeltaProblem[] {
  if (!def) return [];
  const problems: DeltaProblem[] = [];
  for (const key of ['tokenPath', 'removedPath'] as const) {
    const path = def[key];
    if (path === undefined) continue;
    try {
      compileJsonPath(path, key);
    } catch (err) {
      problems.push({ key, message: (err as Error).message });
    }
  }
  const combined = ['graphql', 'deleted'].filter((key) => object[key] !== undefined);
  if (combined.length) problems.push({ key: '', message: `cannot be combined with ${combined.join(', ')} (the token lists changes and deletions itself)` });
  if (def.tokenParam !== undefined) {
    const url = typeof object.url === 'string' ? object.url : '';
    const query = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
    if (query.has(def.tokenParam)) problems.push({ key: 'tokenParam', message: `is set in the object's url already; the poller sets it` });
    if (object.events !== undefined && def.fullSyncQuery) problems.push({ key: 'fullSyncQuery', message: 'an event log read from a cursor has no full sync' });
    if (def.fullSyncQuery && def.tokenParam in def.fullSyncQuery)
      problems.push({ key: 'fullSyncQuery', message: `sets ${def.tokenParam}, the token parameter, which a full sync goes without` });
  }
  return problems;
}
