import { Kind, parse, type OperationDefinitionNode } from 'graphql';
import { DefinitionError } from '../errors.js';
import { compileJsonPath } from '../lib/json-path.js';
import { validateDateTemplates } from '../templates/date-template.js';
import type { GraphqlListingDefinition } from './schema.js';

/**
 * The format of a GraphQL listing (docs/connectors.md "GraphQL listings"): a poller object whose
 * records come from a Relay-style connection of a GraphQL query. This half is the format — its
 * checks and the request shape it resolves to; sending pages and pacing them by query cost is the
 * poller's (provider/graphql-listing.ts).
 */

/** Where the records and the page info of a normalized page are (see normalizePage). */
const NORMALIZED = { recordsPath: '$.nodes[*]', cursorPath: '$.pageInfo.endCursor', hasMorePath: '$.pageInfo.hasNextPage' };
export interface GraphqlListingProblem {
  key: string;
  message: string;
}

/** The operation a document holds, or a problem: exactly one operation, a query. */
function operationOf(query: string): OperationDefinitionNode | string {
  let document: ReturnType<typeof parse>;
  try {
    document = parse(query);
  } catch (err) {
    return `is not a GraphQL document: ${(err as Error).message}`;
  }
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operations.length !== 1) return `must hold exactly one operation (it holds ${operations.length})`;
  if (operations[0].operation !== 'query') return `must be a query, not a ${operations[0].operation}`;
  return operations[0];
}

/**
 * The problems of a `graphql` definition, each with the key it concerns: a document that does not
 * parse or is not one query, a cursor variable the query does not declare, variables it does not
 * declare, a required variable left without a value, a malformed connection path or date template.
 */
export function graphqlListingProblems(def: GraphqlListingDefinition | undefined, object: Record<string, unknown> = {}): GraphqlListingProblem[] {
  if (!def) return [];
  const problems: GraphqlListingProblem[] = [];
  const replaced = ['method', 'body', 'recordsPath', 'pagination'].filter((key) => object[key] !== undefined);
  if (replaced.length) problems.push({ key: '', message: `sets the request and its paging itself: leave out ${replaced.join(', ')}` });
  const operation = operationOf(def.query);
  if (typeof operation === 'string') problems.push({ key: 'query', message: operation });
  else {
    const declared = new Map(operation.variableDefinitions?.map((v) => [v.variable.name.value, v]) ?? []);
    const cursor = def.cursorVariable ?? 'after';
    if (!declared.has(cursor)) problems.push({ key: 'query', message: `declares no $${cursor}, the cursor variable each next page sets` });
    for (const name of Object.keys(def.variables ?? {}))
      if (!declared.has(name)) problems.push({ key: `variables/${name}`, message: `is not a variable the query declares` });
    for (const [name, v] of declared) {
      const required = v.type.kind === Kind.NON_NULL_TYPE && v.defaultValue === undefined;
      if (required && name !== cursor && !(name in (def.variables ?? {})))
        problems.push({ key: 'variables', message: `has no value for $${name}, which the query requires` });
    }
  }
  try {
    compileJsonPath(def.connectionPath, 'connectionPath');
  } catch (err) {
    problems.push({ key: 'connectionPath', message: (err as Error).message });
  }
  const dates = (value: unknown, key: string): void => {
    if (typeof value === 'string') {
      try {
        validateDateTemplates(value);
      } catch (err) {
        problems.push({ key, message: (err as Error).message });
      }
    } else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) dates(v, `${key}/${k}`);
  };
  dates(def.variables, 'variables');
  return problems;
}

/** The request shape of a GraphQL listing: what resolve.ts puts in place of method, body, records and pagination. */
export function graphqlListing(objectType: string, def: GraphqlListingDefinition, object: Record<string, unknown> = {}) {
  const [problem] = graphqlListingProblems(def, object);
  if (problem) throw new DefinitionError(`object "${objectType}": graphql${problem.key ? `.${problem.key.replaceAll('/', '.')}` : ''} ${problem.message}`);
  return {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: { query: def.query, variables: def.variables ?? {} },
    recordsPath: NORMALIZED.recordsPath,
    pagination: {
      type: 'cursor' as const,
      cursorIn: 'body' as const,
      cursorParam: `variables.${def.cursorVariable ?? 'after'}`,
      cursorPath: NORMALIZED.cursorPath,
      hasMorePath: NORMALIZED.hasMorePath,
    },
    graphql: def,
  };
}
