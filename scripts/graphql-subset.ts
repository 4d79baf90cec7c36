/**
 * Writes the vendored subset of a provider's published GraphQL schema that a contract test validates
 * queries against: every type, field and argument the connector's documents reach, as published
 * (descriptions, non-null markers, default values and deprecations kept). Object types keep the
 * fields the documents select and every scalar or enum field beside them (so a query may select
 * another plain field without a new subset); arguments keep their input types whole. Interfaces an
 * object implements are left out unless a document selects one. Each provider's recipe lives in
 * scripts/graphql-subsets/<provider>.ts.
 *
 *   node --import tsx scripts/graphql-subset.ts <provider> <published schema: introspection .json or .json.gz>
 *   npx biome format --write <the subset file>
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import {
  buildClientSchema,
  buildSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isScalarType,
  Kind,
  parse,
  print,
  printSchema,
  TypeInfo,
  validate,
  visit,
  visitWithTypeInfo,
  type DefinitionNode,
  type DocumentNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type IntrospectionQuery,
} from 'graphql';

export interface GraphqlSubsetRecipe {
  /** Where the published schema comes from (package and file, or URL), and its version. */
  source: string;
  /** The connector file whose documents the subset must validate. */
  connector: string;
  /** The vendored SDL file, relative to the repository root. */
  out: string;
}

/** Every GraphQL document a connector sends: its poller objects' `graphql.query` and its request templates' `body.query`. */
export function connectorDocuments(connector: Record<string, unknown>): Array<{ where: string; query: string }> {
  const found: Array<{ where: string; query: string }> = [];
  const events = (connector.events ?? {}) as { poller?: Record<string, { graphql?: { query?: string } }> };
  for (const [name, object] of Object.entries(events.poller ?? {}))
    if (object.graphql?.query) found.push({ where: `events.poller.${name}.graphql.query`, query: object.graphql.query });
  const requests = (connector.requests ?? {}) as Record<string, { schema?: { body?: { query?: unknown } } }>;
  for (const [name, template] of Object.entries(requests)) {
    const query = template.schema?.body?.query;
    if (typeof query === 'string') found.push({ where: `requests.${name}.schema.body.query`, query });
  }
  return found;
}

/** type name → the field names the documents select on it. */
function selectedFields(schema: GraphQLSchema, documents: DocumentNode[]): Map<string, Set<string>> {
  const used = new Map<string, Set<string>>();
  for (const document of documents) {
    const info = new TypeInfo(schema);
    visit(
      document,
      visitWithTypeInfo(info, {
        Field(node) {
          const parent = info.getParentType();
          if (parent && !node.name.value.startsWith('__')) (used.get(parent.name) ?? used.set(parent.name, new Set()).get(parent.name)!).add(node.name.value);
        },
      }),
    );
  }
  return used;
}

export function cutGraphqlSubset(schema: GraphQLSchema, documents: DocumentNode[]): string {
  for (const document of documents) {
    const errors = validate(schema, document);
    if (errors.length) throw new Error(`a connector document is not valid against the published schema: ${errors.map((e) => e.message).join('; ')}`);
  }
  const used = selectedFields(schema, documents);
  const keep = new Set<string>([...used.keys()]);
  const pending: GraphQLNamedType[] = [];
  // Each type is expanded once: input types may reach themselves (a filter's `and: [IssueFilter!]`).
  const reached = new Set<string>();
  const reach = (type: GraphQLNamedType) => {
    if (!reached.has(type.name)) pending.push(type);
    reached.add(type.name);
    keep.add(type.name);
  };
  const keptFields = new Map<string, Set<string>>();
  for (const [typeName, fields] of used) {
    const type = schema.getType(typeName);
    if (!type || !('getFields' in type) || isInputObjectType(type)) continue;
    const kept = new Set(fields);
    for (const [name, field] of Object.entries(type.getFields())) {
      const named = getNamedType(field.type);
      if (isScalarType(named) || isEnumType(named)) kept.add(name);
    }
    keptFields.set(typeName, kept);
    for (const name of kept) {
      const field = type.getFields()[name];
      reach(getNamedType(field.type));
      for (const arg of field.args) reach(getNamedType(arg.type));
    }
  }
  // Input objects are kept whole, with every type they reach.
  while (pending.length) {
    const type = pending.pop()!;
    if (isInputObjectType(type)) for (const field of Object.values(type.getFields())) reach(getNamedType(field.type));
  }

  const sdl = parse(printSchema(schema));
  const definitions: DefinitionNode[] = [];
  for (const def of sdl.definitions) {
    if (def.kind === Kind.SCHEMA_DEFINITION) {
      const roots = def.operationTypes.filter((op) => keep.has(op.type.name.value));
      definitions.push({ ...def, operationTypes: roots });
      continue;
    }
    if (!('name' in def) || !def.name || !keep.has(def.name.value) || def.kind === Kind.DIRECTIVE_DEFINITION) continue;
    if (def.kind === Kind.OBJECT_TYPE_DEFINITION || def.kind === Kind.INTERFACE_TYPE_DEFINITION) {
      const fields = keptFields.get(def.name.value) ?? new Set();
      definitions.push({
        ...def,
        interfaces: (def.interfaces ?? []).filter((i) => keep.has(i.name.value)),
        fields: (def.fields ?? []).filter((f) => fields.has(f.name.value)),
      });
    } else definitions.push(def);
  }
  // Directives the kept definitions use (besides the built-in ones) are kept too.
  const directives = new Set<string>();
  visit({ kind: Kind.DOCUMENT, definitions }, { Directive: (node) => void directives.add(node.name.value) });
  const directiveDefs = sdl.definitions.filter((d) => d.kind === Kind.DIRECTIVE_DEFINITION && directives.has(d.name.value));
  return print({ kind: Kind.DOCUMENT, definitions: [...directiveDefs, ...definitions] });
}

/** A published schema: an introspection result (.json, .json.gz) or SDL (.graphql, as some providers publish it). */
export function loadIntrospection(file: string): GraphQLSchema {
  const raw = readFileSync(file);
  const text = (file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
  if (/\.graphqls?$/.test(file)) return buildSchema(text);
  const json = JSON.parse(text) as { data?: IntrospectionQuery } & Partial<IntrospectionQuery>;
  return buildClientSchema(json.data ?? (json as IntrospectionQuery));
}

async function main(): Promise<void> {
  const [provider, schemaFile] = process.argv.slice(2);
  if (!provider || !schemaFile) {
    console.error('usage: node --import tsx scripts/graphql-subset.ts <provider> <published schema: introspection .json or .json.gz, or SDL .graphql>');
    process.exit(2);
  }
  const recipe = ((await import(`./graphql-subsets/${provider}.ts`)) as { recipe: GraphqlSubsetRecipe }).recipe;
  const connector = JSON.parse(readFileSync(new URL(`../${recipe.connector}`, import.meta.url), 'utf8')) as Record<string, unknown>;
  const documents = connectorDocuments(connector);
  const subset = cutGraphqlSubset(
    loadIntrospection(schemaFile),
    documents.map((d) => parse(d.query)),
  );
  const header = [
    `# A subset of ${recipe.source}`,
    `# cut for the documents of ${recipe.connector}: ${documents.map((d) => d.where).join(', ')}`,
    `# regenerate: node --import tsx scripts/graphql-subset.ts ${provider} <published schema .json or .json.gz> (the project's formatter then lays it out)`,
  ].join('\n');
  writeFileSync(new URL(`../${recipe.out}`, import.meta.url), `${header}\n\n${subset}\n`);
  console.log(`wrote ${recipe.out}: ${documents.length} documents, ${subset.length} characters of SDL; now run: npx biome format --write ${recipe.out}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
