/**
 * Writes the vendored subset of a provider's published OpenAPI description that a contract test
 * validates requests against: the operations the provider's connector calls, their parameters and
 * request bodies as published, every component they reference (followed transitively), responses
 * left out (the emulator answers) — except in a recipe for the connector drafter's tests
 * (`forDrafting`), which keeps responses, servers and security schemes, the parts a draft reads.
 * Each provider's choice of operations lives in scripts/openapi-subsets/<provider>.ts.
 *
 *   node --import tsx scripts/openapi-subset.ts <provider> <path to the full description (JSON or YAML)>
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export type Json = Record<string, unknown>;
export interface OpenApiDocument {
  openapi: string;
  info: Json;
  paths: Record<string, Record<string, Json>>;
  components?: Record<string, Record<string, unknown>>;
  servers?: unknown[];
  security?: unknown[];
}

export interface SubsetRecipe {
  /** Where the full description is published (repository and file, or URL). */
  source: string;
  /** The operations the connector sends, as [path, method]. */
  operations: Array<[string, string]>;
  /** The vendored file, relative to the repository root. */
  out: string;
  /** Optional change after the cut (e.g. enums widened from the provider's SDK); returns what it replaced. */
  adjust?: (subset: OpenApiDocument) => string[];
  /** Keep responses, servers and security schemes: the subset feeds the connector drafter's tests. */
  forDrafting?: boolean;
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace']);

export function cutSubset(spec: OpenApiDocument, provider: string, recipe: SubsetRecipe): OpenApiDocument & { 'x-pollgate-source': Json } {
  const paths: OpenApiDocument['paths'] = {};
  for (const [path, method] of recipe.operations) {
    const item = spec.paths[path];
    const operation = item?.[method];
    if (!operation) throw new Error(`the description has no ${method.toUpperCase()} ${path}`);
    const { responses, ...kept } = operation;
    // Path-level parameters and other non-operation keys apply to every method of the path.
    const shared = Object.fromEntries(Object.entries(item).filter(([key]) => !METHODS.has(key)));
    const answers = recipe.forDrafting ? responses : { default: { description: 'not vendored: the emulator answers' } };
    paths[path] = { ...shared, ...paths[path], [method]: { ...kept, responses: answers } };
  }
  const components = referencedComponents(spec, paths);
  const subset: OpenApiDocument = { openapi: spec.openapi, info: { ...spec.info, title: `${String(spec.info.title)} (subset)` }, paths };
  if (recipe.forDrafting) {
    // Security schemes are named by operations, not referenced with $ref: keep them all.
    const schemes = spec.components?.securitySchemes;
    if (schemes) components.securitySchemes = { ...components.securitySchemes, ...schemes };
    if (spec.servers) subset.servers = spec.servers;
    if (spec.security) subset.security = spec.security;
  }
  if (Object.keys(components).length) subset.components = components;
  const replaced = recipe.adjust?.(subset) ?? [];
  return {
    ...subset,
    'x-pollgate-source': {
      description: recipe.source,
      descriptionVersion: spec.info.version,
      operations: recipe.operations.map(([p, m]) => `${m.toUpperCase()} ${p}`),
      replaced,
      regenerate: `node --import tsx scripts/openapi-subset.ts ${provider} <full description .json>`,
    },
  };
}

/** Every `#/components/<kind>/<name>` reached from the kept paths, following references inside components too. */
function referencedComponents(spec: OpenApiDocument, root: unknown): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  const pending: unknown[] = [root];
  while (pending.length) {
    const node = pending.pop();
    if (Array.isArray(node)) pending.push(...node);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === '$ref' && typeof value === 'string') {
          const m = /^#\/components\/([^/]+)\/(.+)$/.exec(value);
          if (!m) throw new Error(`unsupported reference ${value}: only #/components/... is followed`);
          const [, kind, name] = m;
          if (out[kind]?.[name] !== undefined) continue;
          const target = spec.components?.[kind]?.[name];
          if (target === undefined) throw new Error(`unresolvable reference ${value}`);
          (out[kind] ??= {})[name] = target;
          pending.push(target);
        } else pending.push(value);
      }
    }
  }
  return out;
}

async function main(): Promise<void> {
  const [provider, specFile] = process.argv.slice(2);
  if (!provider || !specFile) {
    console.error('usage: node --import tsx scripts/openapi-subset.ts <provider> <full description .json>');
    process.exit(2);
  }
  const recipe = ((await import(`./openapi-subsets/${provider}.ts`)) as { recipe: SubsetRecipe }).recipe;
  const text = readFileSync(specFile, 'utf8');
  const spec = (text.trimStart().startsWith('{') ? JSON.parse(text) : parseYaml(text, { maxAliasCount: -1 })) as OpenApiDocument;
  const subset = cutSubset(spec, provider, recipe);
  const out = new URL(`../${recipe.out}`, import.meta.url);
  writeFileSync(out, `${JSON.stringify(subset, null, 2)}\n`);
  const replaced = subset['x-pollgate-source'].replaced as string[];
  console.log(
    `wrote ${recipe.out}: ${recipe.operations.length} operations of ${provider} ${String(spec.info.version)}${replaced.length ? `; ${replaced.join('; ')}` : ''}`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
