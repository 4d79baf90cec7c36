import { firstMatch } from '../lib/json-path.js';
import type { ProviderRequest, ProviderResult } from './http-client.js';
import { ProviderError } from './http-client.js';
import { RateBudgetWait } from './rate-budget.js';
import type { ConnectorDefinition, GraphqlListingDefinition } from '../connectors/schema.js';
import { renderString } from '../templates/request-template.js';

/**
 * GraphQL listings (docs/connectors.md "GraphQL listings"): a poller object whose records come from
 * a Relay-style connection of a GraphQL query. Each page is a POST of `{query, variables}`; the
 * connection at `connectionPath` holds the records (`nodes`, or `edges[].node`) and `pageInfo`, whose
 * `endCursor` becomes the cursor variable of the next page while `hasNextPage` is true. The date
 * filter is a variable (date templates render in it like in any body).
 *
 * A GraphQL server answers most failures with HTTP 200 and an `errors` list: such a page fails the
 * poll (never read as an empty listing). A server that meters queries by cost declares where its
 * answer says so (`costLimit`): pages are paced by the account's bucket as the answers report it
 * (CostBucket, shared by the account's listings on the node), and a throttled page waits until the
 * cost is restored and is sent again.
 */

/** A throttled page is sent again at most this many times before the poll fails. */
const MAX_THROTTLED_RETRIES = 5;

/**
 * The query-cost bucket of one provider account as its answers report it, shared by every listing
 * of a gateway that polls the account (see costBucketOf): a page first takes the cost its listing's
 * last page asked for, and waits while the bucket — the last reported level, restored since at the
 * reported rate, less what other pages have taken and not yet been answered for — would go below
 * zero. So pages queue for the restore in the order they asked, instead of racing for it.
 */
export class CostBucket {
  private level = Number.POSITIVE_INFINITY;
  private at = 0;
  private restoreRate = 0;
  private highest = 0;
  /** Costs taken by pages whose answers have not come yet. */
  private pending = 0;

  /** Takes `cost` now; returns when the call may be sent (now, or when the restore has covered it). */
  take(cost: number, now: number): number {
    this.pending += cost;
    if (this.restoreRate <= 0 || !Number.isFinite(this.level)) return now;
    // Never estimated above the fullest the provider reported (or the cost itself).
    const level = Math.min(Math.max(this.highest, cost), this.level + ((now - this.at) / 1000) * this.restoreRate);
    this.level = level - cost;
    this.at = now;
    return this.level >= 0 ? now : now + Math.ceil((-this.level / this.restoreRate) * 1000);
  }

  /** A page that took `taken` was answered (or failed): the provider's figure, if any, replaces the estimate. */
  settle(taken: number, cost: Cost | undefined, now: number): void {
    this.pending = Math.max(0, this.pending - taken);
    if (!cost) return;
    this.level = cost.available - this.pending;
    this.restoreRate = cost.restoreRate;
    this.at = now;
    this.highest = Math.max(this.highest, cost.available);
  }
}

/** Buckets per gateway (keyed by its ProviderCalls) and account: gone with the gateway. */
const buckets = new WeakMap<object, Map<string, CostBucket>>();

/**
 * The shared bucket of an account: `scope` names it like a rate budget's scope (the connector's
 * `rateLimit.scope` rendered for the instance, else the instance itself).
 */
export function costBucketOf(owner: object, connector: ConnectorDefinition, configuration: Record<string, unknown>, instanceId: number): CostBucket {
  const template = connector.rateLimit?.scope;
  const scope = (template ? renderString(template, { iparam: configuration, context: {} }).trim() : '') || `instance ${instanceId}`;
  const key = `${connector.key}\n${scope}`;
  let byKey = buckets.get(owner);
  if (!byKey) buckets.set(owner, (byKey = new Map()));
  let bucket = byKey.get(key);
  if (!bucket) byKey.set(key, (bucket = new CostBucket()));
  return bucket;
}

export interface GraphqlSendOptions {
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  /** A wait longer than this delays the poll (RateBudgetWait) instead of sleeping. */
  maxWaitMs: number;
  /** Names the wait in a delayed poll's reason. */
  label: string;
  /** The account's query-cost bucket (costBucketOf), for a definition with `costLimit`. */
  bucket?: CostBucket;
}

/**
 * Wraps the send of a listing's pages: checks each answer for GraphQL errors, waits out and resends
 * a throttled page, paces each page by the account's cost bucket, and hands the listing a
 * normalized page `{nodes, pageInfo}` (edges flattened to their nodes).
 */
export function graphqlPageSender(
  def: GraphqlListingDefinition,
  send: (request: ProviderRequest) => Promise<ProviderResult>,
  o: GraphqlSendOptions,
): (request: ProviderRequest) => Promise<ProviderResult> {
  const bucket = o.bucket ?? new CostBucket();
  /** The cost this listing's last answer said a page asks for (unknown before the first). */
  let requested = 0;
  const wait = async (until: number, reason: string) => {
    const now = o.now();
    if (until <= now) return;
    if (until - now > o.maxWaitMs) throw new RateBudgetWait(o.label, until, reason, now);
    await o.sleep(until - now);
  };
  return async (request) => {
    for (let attempt = 1; ; attempt++) {
      const taken = requested;
      let result: ProviderResult;
      try {
        await wait(bucket.take(taken, o.now()), 'GraphQL query cost');
        result = await send(request);
      } catch (err) {
        bucket.settle(taken, undefined, o.now());
        throw err;
      }
      const body = parseJson(result.response);
      const cost = body && costOf(def, body);
      bucket.settle(taken, cost, o.now());
      // Not JSON: the listing reports it as not a listing.
      if (body === undefined) return result;
      if (cost) requested = cost.requested;
      const errors = Array.isArray(body.errors) ? (body.errors as unknown[]) : [];
      const throttled = errors.length > 0 && def.costLimit?.throttledCode !== undefined && errors.every((e) => errorCode(e) === def.costLimit!.throttledCode);
      if (throttled && attempt <= MAX_THROTTLED_RETRIES) {
        // The next take waits until the bucket holds the requested cost (a second when the answer says nothing).
        if (!cost) await wait(o.now() + 1000, 'GraphQL throttled');
        continue;
      }
      if (errors.length > 0) throw graphqlError(result, errors, attempt);
      return { ...result, response: JSON.stringify(normalizePage(def, body, result)) };
    }
  };
}

export interface Cost {
  requested: number;
  available: number;
  restoreRate: number;
}

function costOf(def: GraphqlListingDefinition, body: Record<string, unknown>): Cost | undefined {
  const c = def.costLimit;
  if (!c) return undefined;
  const [requested, available, restoreRate] = [c.requestedPath, c.availablePath, c.restoreRatePath].map((p) => Number(firstMatch(body, p)));
  return [requested, available, restoreRate].every(Number.isFinite) && restoreRate > 0 ? { requested, available, restoreRate } : undefined;
}

function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { extensions?: { code?: unknown } }).extensions?.code : undefined;
}

function graphqlError(result: ProviderResult, errors: unknown[], attempts: number): ProviderError {
  const messages = errors
    .slice(0, 3)
    .map((e) => String((e as { message?: unknown } | null)?.message ?? JSON.stringify(e)).slice(0, 300))
    .join('; ');
  return new ProviderError({
    message: `the provider answered GraphQL errors: ${messages}${errors.length > 3 ? ` (and ${errors.length - 3} more)` : ''}`,
    status: result.status,
    headers: result.headers,
    response: result.response.slice(0, 500),
    errorSource: 'APP',
    attempts,
  });
}

/**
 * `{nodes, pageInfo}` of the connection at `connectionPath`. An answer without one there (`data`
 * null, another shape) is not a listing, and neither is a connection without nodes or edges.
 */
function normalizePage(def: GraphqlListingDefinition, body: Record<string, unknown>, result: ProviderResult): unknown {
  const notListing = (what: string) =>
    new ProviderError({
      message: `${what}, not a listing`,
      status: result.status,
      headers: result.headers,
      response: result.response.slice(0, 500),
      errorSource: 'APP',
      attempts: result.attempts,
    });
  const connection = firstMatch(body, def.connectionPath) as Record<string, unknown> | undefined;
  if (typeof connection !== 'object' || connection === null || Array.isArray(connection))
    throw notListing(`no connection at ${def.connectionPath}, the listing's connectionPath`);
  const nodes = Array.isArray(connection.nodes)
    ? connection.nodes
    : Array.isArray(connection.edges)
      ? connection.edges.map((e) => (e as { node?: unknown } | null)?.node)
      : undefined;
  if (nodes === undefined) throw notListing(`the connection at ${def.connectionPath} has neither nodes nor edges (select one of them in the query)`);
  return { nodes, pageInfo: connection.pageInfo ?? {} };
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
