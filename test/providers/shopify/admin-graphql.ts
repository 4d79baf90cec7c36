import { readFileSync } from 'node:fs';
import {
  buildSchema,
  getNamedType,
  getVariableValues,
  isObjectType,
  Kind,
  parse,
  validate,
  type DocumentNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';

/**
 * Shopify's Admin GraphQL API 2026-10 as published (the vendored subset of the schema, see
 * scripts/graphql-subsets/shopify.ts), and the documented behaviour of the parts the connector
 * uses: search syntax on `updated_at`, connection paging, query cost.
 */
export const ADMIN_SCHEMA: GraphQLSchema = buildSchema(readFileSync(new URL('./admin-2026-10.subset.graphql', import.meta.url), 'utf8'));

/**
 * A request's problems against the published schema: the document's (graphql's `validate`), then
 * its variables' values coerced to the types the operation declares (`getVariableValues`: an enum
 * value the schema does not list — a webhook topic, a format — is refused here). None for a valid request.
 */
export function schemaErrors(query: string, variables: Record<string, unknown> = {}): { document?: DocumentNode; errors: string[] } {
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch (err) {
    return { errors: [(err as Error).message] };
  }
  const errors = validate(ADMIN_SCHEMA, document).map((e) => e.message);
  if (errors.length) return { document, errors };
  for (const def of document.definitions) {
    if (def.kind !== Kind.OPERATION_DEFINITION) continue;
    const coerced = getVariableValues(ADMIN_SCHEMA, def.variableDefinitions ?? [], variables);
    if (coerced.errors) errors.push(...coerced.errors.map((e) => e.message));
  }
  return { document, errors };
}

/**
 * The requested cost of a document.
 * https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits: "Every field in the schema has
 * an integer cost value assigned to it." — "Scalar | 0", "Enum | 0", "Object | 1".
 * https://help.shopify.com/en/api/graphql-admin-api/call-limit: "The requested cost is based on the
 * number of fields requested. The actual cost is based on the results returned, since the query can
 * end early due to an object type field returning null, or connection fields can return fewer edges
 * than requested." So the objects under a connection's `nodes`/`edges` count once per node asked
 * for (`first`), and, for the actual cost, once per node returned (`returned` by connection field).
 */
export function queryCost(document: DocumentNode, variables: Record<string, unknown>, returned?: Map<string, number>): number {
  let cost = 0;
  for (const def of document.definitions) {
    if (def.kind !== Kind.OPERATION_DEFINITION) continue;
    const root = def.operation === 'mutation' ? ADMIN_SCHEMA.getMutationType() : ADMIN_SCHEMA.getQueryType();
    if (root) cost += selectionCost(def.selectionSet, root, 1, variables, returned);
  }
  return cost;
}

function selectionCost(
  set: SelectionSetNode,
  parent: GraphQLObjectType,
  factor: number,
  variables: Record<string, unknown>,
  returned: Map<string, number> | undefined,
): number {
  let cost = 0;
  for (const selection of set.selections) {
    if (selection.kind !== Kind.FIELD) continue;
    const field = parent.getFields()[selection.name.value];
    if (!field) continue;
    const named = getNamedType(field.type);
    if (!isObjectType(named)) continue;
    cost += factor;
    if (!selection.selectionSet) continue;
    const sizeArg = selection.arguments?.find((a) => a.name.value === 'first' || a.name.value === 'last');
    if (!sizeArg) {
      cost += selectionCost(selection.selectionSet, named, factor, variables, returned);
      continue;
    }
    const v = sizeArg.value;
    const asked = v.kind === Kind.INT ? Number(v.value) : v.kind === Kind.VARIABLE ? Number(variables[v.name.value] ?? 0) : 0;
    const size = returned?.get(selection.alias?.value ?? selection.name.value) ?? asked;
    // The connection's nodes (or edges) once per node; its pageInfo once.
    for (const child of selection.selectionSet.selections) {
      if (child.kind !== Kind.FIELD) continue;
      const perNode = child.name.value === 'nodes' || child.name.value === 'edges';
      cost += selectionCost({ kind: Kind.SELECTION_SET, selections: [child] }, named, factor * (perNode ? size : 1), variables, returned);
    }
  }
  return cost;
}

/**
 * One term of a `query` argument that the emulator models: `updated_at` with a comparator.
 * https://shopify.dev/docs/api/usage/search-syntax: "value: Any name, or any quoted string (single
 * or double quotes are both permitted). Date values must be a string surrounded by quotes." and
 * "When a connective is not specified between two terms, AND is implied."
 */
export interface DateTerm {
  field: 'updated_at' | 'created_at';
  op: '>' | '>=' | '<' | '<=' | '=';
  at: number;
  /** The value was not quoted: only its day is read (see parseSearch). */
  dayOnly: boolean;
}

export function parseSearch(query: string | undefined): DateTerm[] | string {
  if (query === undefined || query.trim() === '') return [];
  const terms: DateTerm[] = [];
  const re = /\s*(?:(AND)\s+)?([a-z_]+):(>=|<=|>|<)?('([^']*)'|"([^"]*)"|(\S+))\s*/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(query))) {
    end = re.lastIndex;
    const [, , field, op, , single, double, bare] = m;
    if (field !== 'updated_at' && field !== 'created_at') return `the emulator does not model the search field ${field}`;
    const text = single ?? double ?? bare;
    const at = Date.parse(text);
    if (Number.isNaN(at)) return `Invalid date value "${text}" for ${field}`;
    // Shopify developer support, https://community.shopify.com/t/graphql-bug-inventoryitems-query-parameter-gives-wrong-result-when-quering-the-updated-at-field/208519:
    // without quotes "the date part of the date-time string is honoured, but the time part is
    // ignored"; "you can enclose the date-time value inside single quotes (') for the query parameter to work as expected".
    terms.push({ field, op: (op as DateTerm['op']) ?? '=', at, dayOnly: bare !== undefined });
  }
  if (end !== query.length) return `the emulator cannot read the search query "${query}"`;
  return terms;
}

const DAY = 86_400_000;
const dayOf = (ms: number) => Math.floor(ms / DAY) * DAY;

/**
 * Whether a record's date meets a term. `wholeDay`: the field compares whole days (the customers
 * query's `updated_at`: "The date and time, matching a whole day, when the customer's information
 * was last updated." — the `query` argument of QueryRoot.customers in the published schema).
 */
export function meets(term: DateTerm, value: number, wholeDay: boolean): boolean {
  const byDay = wholeDay || term.dayOnly;
  const a = byDay ? dayOf(value) : Math.floor(value / 1000) * 1000;
  const b = byDay ? dayOf(term.at) : term.at;
  switch (term.op) {
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    default:
      return a === b;
  }
}
