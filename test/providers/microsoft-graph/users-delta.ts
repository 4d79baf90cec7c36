import { randomUUID } from 'node:crypto';
import type { CannedResponse, RouteRequest } from '../../../sandbox/provider-server.js';

/**
 * `GET /users/delta` as Microsoft documents it, for the Graph emulator (graph.ts). Each state token
 * names a snapshot of the users as the round that issued it saw them (their tracked properties);
 * a delta request lists what differs from that snapshot. Built from:
 * - OVERVIEW = https://learn.microsoft.com/graph/delta-query-overview ("Use delta query to track changes in Microsoft Graph data")
 * - USER_DELTA = https://learn.microsoft.com/graph/api/user-delta ("user: delta")
 */
type User = Record<string, unknown>;

/**
 * USER_DELTA, "Example 1: Default properties": "There is no `$select` parameter, so a default set of
 * properties is tracked and returned" — the example response lists these.
 */
const DEFAULT_PROPERTIES = [
  'businessPhones',
  'displayName',
  'givenName',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
];

interface Round {
  items: User[];
  /** The snapshot the round's `@odata.deltaLink` names. */
  state: string;
}

const error = (status: number, code: string, message: string, headers?: Record<string, string>): CannedResponse => ({
  status,
  body: { error: { code, message } },
  ...(headers ? { headers } : {}),
});

export class UsersDelta {
  /** Snapshots by `$deltatoken`: the tracked properties (`$select`) and each user's tracked values. */
  private readonly states = new Map<string, { select: string[]; users: Map<string, string> }>();
  /** Rounds in progress by `$skiptoken`: what is left to page through. */
  private readonly rounds = new Map<string, Round & { offset: number }>();

  constructor(
    private readonly base: () => string,
    private readonly users: () => Map<string, User>,
    private readonly pageSize: () => number,
  ) {}

  /**
   * OVERVIEW, "Token duration": "Delta tokens are only valid for a specific period before the client
   * application needs to run a full synchronization again. For directory objects, the limit is seven
   * days." Tests expire every token issued so far at once.
   */
  expireTokens(): void {
    this.states.clear();
  }

  handle(req: RouteRequest): CannedResponse {
    const q = req.query;
    // OVERVIEW, "Optional query parameters", for users: "`$expand` is not supported. `$top` is not
    // supported. `$orderby` is not supported."
    for (const refused of ['$expand', '$top', '$orderby'])
      if (q[refused] !== undefined) return error(400, 'Request_BadRequest', `${refused} is not supported with delta queries for users.`);
    if (q.$skiptoken !== undefined) {
      // OVERVIEW, note: "Delta queries with both `$select` and `$skipToken` will not be supported."
      // USER_DELTA, "Query parameters": "If you use any query parameter (other than `$deltatoken` and
      // `$skiptoken`), you must specify it in the initial **delta** request."
      if (Object.keys(q).some((k) => k !== '$skiptoken'))
        return error(400, 'Request_BadRequest', 'Query parameters other than $skiptoken go in the initial delta request only.');
      const round = this.rounds.get(q.$skiptoken);
      if (!round) return this.expired();
      return this.page(round);
    }
    if (q.$deltatoken !== undefined && q.$deltatoken !== '') {
      if (Object.keys(q).some((k) => k !== '$deltatoken'))
        return error(400, 'Request_BadRequest', 'Query parameters other than $deltatoken go in the initial delta request only.');
      const state = this.states.get(q.$deltatoken);
      if (!state) return this.expired();
      return this.start(state.select, state.users);
    }
    // USER_DELTA, "OData query parameters": "You can use a `$select` query parameter … The *id*
    // property is always returned." OVERVIEW, "State tokens": "The state tokens also encode and
    // include other query parameters (such as `$select`) specified in the initial delta query request."
    const select = q.$select ? q.$select.split(',').filter((p) => p !== 'id') : DEFAULT_PROPERTIES;
    // OVERVIEW, note: "The initial request to the delta query function (no `$deltaToken` or
    // `$skipToken`) will return the resources that currently exist in the collection."
    return this.start(select, undefined);
  }

  /**
   * OVERVIEW, "Synchronization reset": "Delta query can return a response code of `410 (gone)` and a
   * **Location** header containing a request URL with an empty `$deltaToken` (same as the initial
   * query)."; "Token duration": "In case of an expired token, the service should respond with a
   * 40X-series error with error codes such as `syncStateNotFound`."
   */
  private expired(): CannedResponse {
    return error(410, 'syncStateNotFound', 'The sync state is no longer available; restart with a full synchronization.', {
      location: `${this.base()}/v1.0/users/delta?$deltatoken=`,
    });
  }

  /** A new round: the changes since `since` (none: every user), and the snapshot its deltaLink names. */
  private start(select: string[], since: Map<string, string> | undefined): CannedResponse {
    const now = new Map<string, string>();
    const items: User[] = [];
    for (const user of this.users().values()) {
      const tracked = tracks(user, select);
      const id = String(user.id);
      now.set(id, JSON.stringify(tracked));
      // OVERVIEW, "Optional query parameters": "If a change occurs to a property that is not selected,
      // the resource for which that property changed does not appear in the delta response".
      if (!since || since.get(id) !== now.get(id)) items.push(tracked);
    }
    // OVERVIEW, "Resource representation in the delta query response": "Removed instances are
    // represented by their **id** and an **@removed** object." and "`changed` indicates the item was
    // deleted and can be restored from deletedItems" (a deleted user stays restorable for 30 days).
    if (since) for (const id of since.keys()) if (!now.has(id)) items.push({ id, '@removed': { reason: 'changed' } });
    const state = randomUUID().replace(/-/g, '');
    this.states.set(state, { select, users: now });
    return this.page({ items, state, offset: 0 });
  }

  /**
   * OVERVIEW, "State tokens": "The `@odata.nextLink` URL includes a `$skipToken`, and a
   * `@odata.deltaLink` URL includes a `$deltaToken`."; step 2a: "If an `@odata.nextLink` URL is
   * returned, there are additional pages of data to be retrieved in the session."
   */
  private page(round: Round & { offset: number }): CannedResponse {
    const value = round.items.slice(round.offset, round.offset + this.pageSize());
    const next = round.offset + this.pageSize();
    const body: Record<string, unknown> = { '@odata.context': `${this.base()}/v1.0/$metadata#users`, value };
    if (next < round.items.length) {
      const skip = randomUUID().replace(/-/g, '');
      this.rounds.set(skip, { ...round, offset: next });
      body['@odata.nextLink'] = `${this.base()}/v1.0/users/delta?$skiptoken=${skip}`;
    } else {
      body['@odata.deltaLink'] = `${this.base()}/v1.0/users/delta?$deltatoken=${round.state}`;
    }
    return { status: 200, body };
  }
}

/**
 * USER_DELTA, "Default: return the same properties as initial delta request": "If the property has
 * not changed, the old value is included in the response." and "If the property has never been set
 * before it will not be included in the response at all."
 */
function tracks(user: User, select: string[]): User {
  const out: User = { id: user.id };
  for (const p of select) if (user[p] !== undefined) out[p] = user[p];
  return out;
}
