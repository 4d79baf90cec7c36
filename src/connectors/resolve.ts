import { DefinitionError } from '../errors.js';
import { formatJavaDate, parseJavaDate } from '../templates/date-template.js';
import { listTemplateRefs } from '../templates/request-template.js';
import { BASE_URL_KEY, OAUTH_KEYS, SETTING_KEYS, TOKEN_KEYS } from './settings-keys.js';
import { graphqlListing } from './graphql-listing.js';
import type {
  ChangeWindow,
  ConnectorDefinition,
  DatesConfiguration,
  DeletedWhen,
  DeletedWindow,
  DeltaDefinition,
  GraphqlListingDefinition,
  PaginationDefinition,
  PollerEventsDefinition,
  PollerObjectDefinition,
  WhereMapping,
} from './schema.js';

/**
 * Turns a poller object (`url`, `idField`, …) into the provider request the poller sends:
 * `/hubs/<hub>/<resource>?where=<CEQL>` goes through the connector's `resources` and their `where`
 * maps; any other URL is a provider path. `${date:…}` and `<%= iparam.x %>` templates are left in
 * place for the poller to render at each poll.
 */
/** One provider listing: what the poller pages through. */
export interface ResolvedListing {
  method: string;
  path: string;
  query: Record<string, string>;
  headers?: Record<string, string>;
  body?: unknown;
  recordsPath?: string;
  pagination?: PaginationDefinition;
  /** A GraphQL listing: its pages go through provider/graphql-listing.ts. */
  graphql?: GraphqlListingDefinition;
  /** Delta tokens (poller/delta.ts). */
  delta?: DeltaDefinition;
}

export interface ResolvedPoll extends ResolvedListing {
  idField: string;
  deletes: boolean;
  datesConfiguration?: DatesConfiguration;
  /** Set when the listing is an event log (see poller/event-feed.ts). */
  events?: PollerEventsDefinition;
  /** Records whose value at `path` equals `equals` are deleted ones. */
  deletedWhen?: DeletedWhen;
  /** A second listing, of deleted records (its settings default to the object's). */
  deleted?: ResolvedPoll;
  /** On a deleted listing: the bounds of its time window. */
  window?: DeletedWindow;
  /** A change feed's window and cap (docs/connectors.md "Change-data-capture listings"). */
  changeWindow?: ChangeWindow;
  /** The full listing that runs when the since-time is older than `changeWindow.maxSeconds`. */
  baseline?: ResolvedPoll;
  /** The since-time is at least this many seconds before the poll. */
  sinceAgeSeconds?: number;
  /** Seconds the object's listing asks further back than its since-time (a coarse date filter). */
  lookbackSeconds?: number;
}

export type CeqlOperator = '=' | '!=' | '>' | '>=' | '<' | '<=';

export interface CeqlClause {
  field: string;
  op: CeqlOperator;
  value: string;
}

const CLAUSE = /^\s*([A-Za-z_][\w.]*)\s*(>=|<=|!=|=|>|<)\s*('(?:[^']|'')*'|-?\d+(?:\.\d+)?|true|false|\u0000\d+\u0000)\s*$/i;

/**
 * Parses the CEQL subset pollgate understands: `field op value` clauses joined by `and` (any case);
 * ops `=` `!=` `>` `>=` `<` `<=`; values single-quoted (`''` is a quote), numbers, true or false.
 * Quotes are removed from values; `${…}` date templates inside them are kept as they are.
 */
export function parseCeqlWhere(input: string): CeqlClause[] {
  // Date templates hold quotes of their own (${date:yyyy-MM-dd'T'HH:mm}): set them aside first.
  const templates: string[] = [];
  const where = input.replace(/\$\{[^}]*\}/g, (t) => `\u0000${templates.push(t) - 1}\u0000`);
  const restore = (s: string) => s.replace(/\u0000(\d+)\u0000/g, (_m, i: string) => templates[Number(i)]);
  // Split on " and " outside quotes ('' inside a quoted value toggles twice: no harm).
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < where.length; i++) {
    const ch = where[i];
    if (ch === "'") quoted = !quoted;
    if (!quoted && /^\sand\s/i.test(where.slice(i, i + 5))) {
      parts.push(current);
      current = '';
      i += 4;
      continue;
    }
    current += ch;
  }
  parts.push(current);
  return parts.map((part) => {
    const m = CLAUSE.exec(part);
    if (!m)
      throw new DefinitionError(`CEQL clause "${restore(part).trim()}" is not of the form field op 'value' (ops: = != > >= < <=; clauses joined by "and")`);
    const raw = m[3];
    const value = restore(
      raw.startsWith("'") ? raw.slice(1, -1).replaceAll("''", "'") : raw.toLowerCase() === 'true' || raw.toLowerCase() === 'false' ? raw.toLowerCase() : raw,
    );
    return { field: m[1], op: m[2] as CeqlOperator, value };
  });
}

/** The keys of a connector's `secret: true` configuration fields. */
export function secretFieldsOf(connector: ConnectorDefinition): Set<string> {
  return new Set((connector.configuration ?? []).filter((f) => f.secret).map((f) => f.key));
}

/**
 * The iparam names a connector's templates may use: its configuration fields and the gateway's own
 * keys (`event.*`, the OAuth client keys `oauth.api.key`…, `base.url`). Handed-over tokens are not
 * among them: they are moved out of the configuration (`<%= access_token %>` stands for them).
 */
export function declaredIparamsOf(connector: ConnectorDefinition): Set<string> {
  const oauthKeys = Object.values(OAUTH_KEYS).filter((key) => !TOKEN_KEYS.includes(key));
  return new Set([...(connector.configuration ?? []).map((f) => f.key), ...Object.values(SETTING_KEYS), ...oauthKeys, BASE_URL_KEY]);
}

/** Throws DefinitionError for a malformed tag, or a secret iparam, in text that becomes part of a URL. */
export function checkUrlTemplate(text: string, secrets: ReadonlySet<string>): void {
  for (const ref of listTemplateRefs(text)) {
    if (ref.root === 'iparam' && secrets.has(ref.path))
      throw new DefinitionError(`secret iparam "${ref.path}" may not be substituted into a URL; put it in a header`);
  }
}

const SINGLE_DATE_TEMPLATE = /^\$\{(date|gmtDate|epoch|epochMs)(?::[^}]*)?\}$/;

/**
 * A where mapping's `format` re-expresses a date value the way the provider wants it: a lone date
 * template gets the new pattern (`${date:…}` keeps the instance's zone), a literal date is parsed
 * and formatted now (in UTC). `epoch:s` / `epoch:ms` give epoch seconds / milliseconds.
 */
function applyFormat(value: string, mapping: WhereMapping, clause: string): string {
  const format = mapping.format;
  if (!format) return value;
  const epoch = format === 'epoch:s' || format === 'epoch:ms';
  const template = SINGLE_DATE_TEMPLATE.exec(value);
  if (template) return epoch ? `\${${format}}` : `\${${template[1] === 'date' ? 'date' : 'gmtDate'}:${format}}`;
  if (value.includes('${')) throw new DefinitionError(`where clause "${clause}": a value with a "format" must be one date template or a literal date`);
  const date = parseJavaDate(value, "yyyy-MM-dd'T'HH:mm:ssXXX");
  if (!date) throw new DefinitionError(`where clause "${clause}": "${value}" is not a date, but its mapping has a "format"`);
  if (epoch) return String(format === 'epoch:s' ? Math.floor(date.getTime() / 1000) : date.getTime());
  return formatJavaDate(date, format, 'UTC');
}

/** Splits a URL's path from its query, decoding the query by hand: URLSearchParams would turn a date offset's '+' into a space. */
function splitUrl(url: string): { path: string; query: Array<[string, string]> } {
  const q = url.indexOf('?');
  const query: Array<[string, string]> = [];
  if (q !== -1) {
    for (const pair of url.slice(q + 1).split('&')) {
      if (!pair) continue;
      const eq = pair.indexOf('=');
      query.push([safeDecode(eq === -1 ? pair : pair.slice(0, eq)), safeDecode(eq === -1 ? '' : pair.slice(eq + 1))]);
    }
  }
  return { path: q === -1 ? url : url.slice(0, q), query };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** What an instance's own poller configuration may hold, as raw JSON (`deleted` is checked where it is read). */
type PollerOwn = Omit<PollerObjectDefinition, 'url' | 'idField' | 'deleted' | 'baseline'> & {
  deleted?: Record<string, unknown>;
  baseline?: Record<string, unknown>;
};

/**
 * The poller objects an instance in this event mode polls: webhook mode takes
 * `events.webhook.poller` when the connector gives one (a change log the notifications point to),
 * else — and polling mode always — `events.poller`.
 */
export function pollerObjectsFor(connector: Pick<ConnectorDefinition, 'events'>, vendorType: 'polling' | 'webhook'): Record<string, PollerObjectDefinition> {
  return (vendorType === 'webhook' ? connector.events?.webhook?.poller : undefined) ?? connector.events?.poller ?? {};
}

/** The resource a poller URL reads: the one a /hubs URL names, else the one named like the object type. */
export function resourceOfPollerUrl(connector: ConnectorDefinition, objectType: string, url: string): string | undefined {
  const hubs = /^\/hubs\/[^/]+\/([^/?]+)\/?(?:\?|$)/.exec(url);
  const name = hubs ? hubs[1] : objectType;
  return connector.resources && Object.hasOwn(connector.resources, name) ? name : undefined;
}

/**
 * Resolves one poller object (from the connector's `events.poller` or an instance's
 * `event.poller.configuration`). Throws DefinitionError naming the object and the problem: a
 * missing url or idField, an unknown resource or hub, a where clause without mapping, a secret in
 * the URL.
 */
export function resolvePollerObject(connector: ConnectorDefinition, objectType: string, config: Record<string, unknown>): ResolvedPoll {
  const url = config.url;
  const idField = config.idField;
  if (typeof url !== 'string' || url === '') throw new DefinitionError(`object "${objectType}": url is required`);
  if (typeof idField !== 'string' || idField === '') throw new DefinitionError(`object "${objectType}": idField is required`);
  const own = config as PollerOwn;
  try {
    checkUrlTemplate(url, secretFieldsOf(connector));
  } catch (err) {
    throw new DefinitionError(`object "${objectType}": ${(err as Error).message}`);
  }
  const { path, query } = splitUrl(url);
  const hubs = /^\/hubs\/([^/]+)\/([^/?]+)\/?$/.exec(path);
  // A /hubs URL reads its resource's settings; a provider path those of the resource of the same name.
  const resource = hubs ? connector.resources?.[hubs[2]] : connector.resources?.[objectType];
  let providerPath = path;
  let providerQuery: Record<string, string> = Object.fromEntries(query);

  if (hubs) {
    const [, hub, resourceName] = hubs;
    if (!resource)
      throw new DefinitionError(`object "${objectType}": the URL names resource "${resourceName}", which connector "${connector.key}" does not define`);
    if (connector.hub && hub !== connector.hub)
      throw new DefinitionError(`object "${objectType}": hub "${hub}" is not this connector's hub "${connector.hub}"`);
    providerPath = resource.path;
    providerQuery = {};
    // Only `where` is read from a /hubs URL; Cloud Elements' other parameters (pageSize, …) are ignored.
    for (const [name, where] of query) {
      if (name !== 'where' || where.trim() === '') continue;
      for (const clause of parseCeqlWhere(where)) {
        const key = `${clause.field}${clause.op}`;
        const mapping = resource.where?.[key];
        if (!mapping)
          throw new DefinitionError(
            `object "${objectType}": the where clause "${clause.field} ${clause.op} …" has no mapping in resource "${resourceName}" (add "${key}" to its where map)`,
          );
        providerQuery[mapping.param] = applyFormat(clause.value, mapping, `${clause.field} ${clause.op} …`);
      }
    }
  }

  return {
    method: (own.method ?? resource?.method ?? 'GET').toUpperCase(),
    path: providerPath,
    query: providerQuery,
    headers: own.headers ?? resource?.headers,
    body: own.body ?? resource?.body,
    idField,
    recordsPath: own.recordsPath ?? resource?.recordsPath,
    pagination: own.pagination ?? resource?.pagination,
    deletes: own.deletes ?? resource?.deletes ?? false,
    datesConfiguration: own.datesConfiguration,
    ...(own.events ? { events: own.events } : {}),
    ...(typeof own.sinceAgeSeconds === 'number' ? { sinceAgeSeconds: own.sinceAgeSeconds } : {}),
    ...(own.graphql ? graphqlListing(objectType, own.graphql, config) : {}),
    ...(own.lookbackSeconds ? { lookbackSeconds: own.lookbackSeconds } : {}),
    ...(own.delta ? { delta: own.delta } : {}),
    ...deletions(connector, objectType, own, resource?.deletedWhen),
    ...changeFeed(connector, objectType, own),
  };
}

/** A change feed's window and its baseline listing (whose settings default to the object's), when declared. */
function changeFeed(
  connector: ConnectorDefinition,
  objectType: string,
  own: PollerOwn & { idField?: unknown },
): Pick<ResolvedPoll, 'changeWindow' | 'baseline'> {
  const w = own.window;
  if (w !== undefined && (typeof w !== 'object' || w === null || Array.isArray(w)))
    throw new DefinitionError(`object "${objectType}": window must be an object (maxSeconds, maxRecords, recordsOptional)`);
  for (const key of ['maxSeconds', 'maxRecords'] as const) {
    const v = w?.[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 1))
      throw new DefinitionError(`object "${objectType}": window.${key} must be a positive whole number`);
  }
  if (w?.maxSeconds && !own.baseline)
    throw new DefinitionError(`object "${objectType}": window.maxSeconds needs a baseline listing, what runs when the since-time is older`);
  if (own.baseline && !w?.maxSeconds)
    throw new DefinitionError(`object "${objectType}": a baseline listing needs window.maxSeconds, the age past which it runs`);
  const baseline =
    own.baseline &&
    resolvePollerObject(connector, `${objectType}.baseline`, {
      idField: own.idField,
      recordsPath: own.recordsPath,
      datesConfiguration: own.datesConfiguration,
      ...own.baseline,
    });
  return { ...(w ? { changeWindow: w } : {}), ...(baseline ? { baseline } : {}) };
}

/** An object's deletedWhen and its resolved deleted listing, present only when declared. */
function deletions(
  connector: ConnectorDefinition,
  objectType: string,
  own: PollerOwn & { idField?: unknown },
  resourceWhen?: DeletedWhen,
): Pick<ResolvedPoll, 'deletedWhen' | 'deleted'> {
  const deletedWhen = own.deletedWhen ?? resourceWhen;
  const { window, ...listing } = own.deleted ?? {};
  const deleted =
    own.deleted &&
    resolvePollerObject(connector, `${objectType}.deleted`, { idField: own.idField, recordsPath: own.recordsPath, pagination: own.pagination, ...listing });
  if (deleted && window !== undefined) deleted.window = deletedWindow(window, objectType);
  return { ...(deletedWhen ? { deletedWhen } : {}), ...(deleted ? { deleted } : {}) };
}

/** A deleted listing's `window`, checked here too: an instance's own poller configuration may carry one. */
function deletedWindow(raw: unknown, objectType: string): DeletedWindow {
  const w = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const seconds = (key: string) => {
    const v = w[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
      throw new DefinitionError(`object "${objectType}": deleted.window.${key} must be a whole number of seconds`);
    return v;
  };
  const coveredPath = w.coveredPath;
  if (coveredPath !== undefined && typeof coveredPath !== 'string')
    throw new DefinitionError(`object "${objectType}": deleted.window.coveredPath must be a JSONPath`);
  return { maxSeconds: seconds('maxSeconds'), minSeconds: seconds('minSeconds'), coveredPath };
}
