import { JSONPath } from 'jsonpath-plus';
import { DefinitionError } from '../errors.js';

/**
 * The one way to read a path in a document. The connector format takes two spellings wherever it
 * takes a path (docs/connectors.md "Paths"):
 * - a JSONPath, starting with `$` (jsonpath-plus syntax, filters in its safe evaluator);
 * - a dotted path, anything else: `data.id` names nested fields, a digit step (`items.0.id`) an
 *   array element. It reads the same as `$.data.id`, with names taken literally.
 * Compile once — structure checked, plain paths turned into direct property walks — then ask for
 * every match or the first.
 */
export interface CompiledJsonPath {
  readonly path: string;
  /** Every match, in document order. */
  all(json: unknown): unknown[];
  /** The first match, or undefined. */
  first(json: unknown): unknown;
  /** Whether the last step selects elements (`[*]`, a filter, slice or union) rather than naming a node. */
  readonly selectsElements: boolean;
}

const compiledPaths = new Map<string, CompiledJsonPath>();
const MAX_CACHED_PATHS = 5000;

/**
 * Checks and compiles a path: a JSONPath or a dotted path. Throws a DefinitionError naming `field`
 * when the path is malformed — jsonpath-plus itself accepts almost any text silently, so the
 * structure is checked here.
 */
export function compileJsonPath(path: string, field = 'path'): CompiledJsonPath {
  const cached = compiledPaths.get(path);
  if (cached) return cached;
  if (typeof path === 'string' && !path.startsWith('$')) return remember(path, plainPath(path, dottedSteps(path, field)));
  const problem = jsonPathProblem(path);
  if (problem) throw new DefinitionError(`${field}: ${JSON.stringify(path)} is not a valid JSONPath: ${problem}`);
  const steps = JSONPath.toPathArray(path).slice(1);
  const last = steps.at(-1) ?? '$';
  const selectsElements = last === '*' || last.startsWith('?(') || last.startsWith('(') || last.includes(',') || /^-?\d*:-?\d*(:-?\d*)?$/.test(last);
  const compiled: CompiledJsonPath = steps.every(isPlainStep)
    ? plainPath(path, steps.map(nameOf))
    : {
        path,
        selectsElements,
        all: (json) => query(path, json),
        first: (json) => query(path, json)[0],
      };
  return remember(path, compiled);
}

function remember(path: string, compiled: CompiledJsonPath): CompiledJsonPath {
  if (compiledPaths.size >= MAX_CACHED_PATHS) compiledPaths.clear();
  compiledPaths.set(path, compiled);
  return compiled;
}

/** The names of a dotted path (`data.id` → data, id); an empty one is malformed. */
function dottedSteps(path: string, field: string): string[] {
  const steps = path.split('.');
  if (steps.some((step) => step === ''))
    throw new DefinitionError(
      `${field}: ${JSON.stringify(path)} is not a valid path: ${path === '' ? 'it is empty' : 'a dotted path has an empty step'}; a JSONPath starts with "$"`,
    );
  return steps;
}

/**
 * The property names a path walks when it only names nested fields (`a.b`, `$.a.b`, `$['a']`);
 * undefined for a path that selects anything else. What a path names can be written to as well
 * as read (a cursor put into a request body).
 */
export function plainSteps(path: string, field = 'path'): string[] | undefined {
  if (!path.startsWith('$')) return dottedSteps(path, field);
  compileJsonPath(path, field);
  const steps = JSONPath.toPathArray(path).slice(1);
  return steps.length > 0 && steps.every(isPlainStep) ? steps.map(nameOf) : undefined;
}

function query(path: string, json: unknown): unknown[] {
  if (json === null || json === undefined) return [];
  // ignoreEvalErrors: a filter reading a field an item lacks is false for that item, not an error.
  const found = JSONPath({ path, json: json as object, wrap: true, eval: 'safe', ignoreEvalErrors: true }) as unknown;
  return Array.isArray(found) ? found : [];
}

/** Where a match sits: the property name or index it was found under, and its normalized JSONPath (`$['a'][0]`). */
export interface MatchPlace {
  key: string | number | undefined;
  path: string;
}

/**
 * Every match of a compiled path with where it sits (slower than `all`: for the mappings that read
 * an item's key or path — records keyed by their ids, `{"recA": {…}}`).
 */
export function matchesWithPlaces(compiled: CompiledJsonPath, json: unknown): Array<{ value: unknown; place: MatchPlace }> {
  if (json === null || json === undefined) return [];
  const path = compiled.path.startsWith('$') ? compiled.path : `$.${compiled.path}`;
  const found = JSONPath({ path, json: json as object, wrap: true, eval: 'safe', ignoreEvalErrors: true, resultType: 'all' }) as unknown;
  if (!Array.isArray(found)) return [];
  return (found as Array<{ value: unknown; path: string; parentProperty: string | number | null }>).map((m) => ({
    value: m.value,
    place: { key: m.parentProperty ?? undefined, path: m.path },
  }));
}

/**
 * A step that is just a property name or index, walked directly with jsonpath-plus's semantics.
 * A backtick escapes a name that would otherwise be an operator (`` $.`@_id `` for an XML attribute).
 */
function isPlainStep(step: string): boolean {
  const name = step.startsWith('`') ? step.slice(1) : step;
  if (name === '' || /[:,]/.test(name)) return false;
  return step.startsWith('`') || (!['*', '..', '^', '~', '$'].includes(step) && !/^[?(@]/.test(step));
}

/** A JSONPath step's property name: without the backtick that escapes it. */
const nameOf = (step: string): string => (step.startsWith('`') ? step.slice(1) : step);

function plainPath(path: string, names: string[]): CompiledJsonPath {
  const first = (json: unknown): unknown => {
    let value = json;
    for (const step of names) {
      // Own properties only, as jsonpath-plus does (so "constructor" or "__proto__" find nothing).
      if (!value || !Object.hasOwn(value as object, step)) return undefined;
      value = (value as Record<string, unknown>)[step];
    }
    return value;
  };
  return {
    path,
    selectsElements: false,
    first,
    all: (json) => {
      const value = first(json);
      return value === undefined ? [] : [value];
    },
  };
}

/**
 * The nodes that a path's last step selects from (`$.data[*]` → the `data` array, `$[*]` → the
 * document): where a path says elements are, whether or not any are there.
 */
export function containersOf(path: string, json: unknown): unknown[] {
  if (!path.startsWith('$')) {
    const names = dottedSteps(path, 'path');
    return names.length <= 1 ? [json] : plainPath(path, names.slice(0, -1)).all(json);
  }
  const steps = JSONPath.toPathArray(compileJsonPath(path).path).slice(0, -1);
  if (steps.length <= 1) return [json];
  if (steps.slice(1).every(isPlainStep)) return plainPath(path, steps.slice(1).map(nameOf)).all(json);
  if (json === null || typeof json !== 'object') return [];
  const found = JSONPath({ path: steps, json: json as object, wrap: true, eval: 'safe', ignoreEvalErrors: true }) as unknown;
  return Array.isArray(found) ? found : [];
}

const TYPE_SELECTOR = /^@(null|boolean|number|string|integer|undefined|nonFinite|scalar|array|object|function|other)\(\)$/;

function jsonPathProblem(path: unknown): string | undefined {
  if (typeof path !== 'string' || !path.startsWith('$')) return 'it must start with "$"';
  const open: string[] = [];
  let quote: string | undefined;
  for (const ch of path) {
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if ((ch === "'" || ch === '"') && open.length > 0) {
      quote = ch;
    } else if (ch === '[' || ch === '(') {
      open.push(ch);
    } else if (ch === ']' || ch === ')') {
      const expected = ch === ']' ? '[' : '(';
      if (open.pop() !== expected) return `"${ch}" without a matching "${expected}"`;
    }
  }
  if (quote) return `unclosed ${quote}`;
  if (open.length) return `unclosed "${open.at(-1)}"`;
  if (path.endsWith('.')) return 'it ends with "."';
  const steps = JSONPath.toPathArray(path);
  if (steps[0] !== '$') return 'it must start with "$", "$." or "$["';
  // jsonpath-plus itself leaves an empty step after a bracketed type selector: `$.a[@string()]`.
  if (steps.some((s, i) => i > 0 && s === '' && !TYPE_SELECTOR.test(steps[i - 1]))) return 'it has an empty step';
  for (const step of steps) {
    if (step.startsWith('@') && !TYPE_SELECTOR.test(step)) {
      // A name holding "." (OData's `@odata.nextLink`) must stay in brackets: `$.\`@odata.nextLink` reads `@odata`, then `nextLink`.
      const escaped = step.includes('.') ? `$['\`${step}']` : `$.\`${step}`;
      return `${step}: a name starting with "@" is read as a type selector; escape it with a backtick: ${escaped}`;
    }
    if (step.startsWith('?(') || step.startsWith('(')) {
      const problem = expressionProblem(step.startsWith('?(') ? step.slice(2, -1) : step);
      if (problem) return `${step}: ${problem}`;
    }
  }
  return undefined;
}

/**
 * jsonpath-plus only parses a filter expression when it first evaluates it; parse it now with
 * the same safe evaluator, after the same `@` substitutions it makes, so a typo fails at load.
 */
type ScriptClass = new (code: string) => unknown;
const SafeScript = (JSONPath.prototype as unknown as { safeVm?: { Script?: ScriptClass } }).safeVm?.Script;

function expressionProblem(code: string): string | undefined {
  if (typeof SafeScript !== 'function') return undefined;
  const script = code
    .replaceAll('@parentProperty', '_$_parentProperty')
    .replaceAll('@parent', '_$_parent')
    .replaceAll('@property', '_$_property')
    .replaceAll('@root', '_$_root')
    .replaceAll(/@([.\s)[])/gu, '_$_v$1')
    .replaceAll('@path', '_$_path');
  try {
    new SafeScript(script);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * The first match of a path (JSONPath or dotted) that may not have been checked at load (an
 * instance setting, a connector not validated): a malformed path matches nothing, as does a
 * non-object document.
 */
export function firstMatch(json: unknown, path: string): unknown {
  if (json === null || typeof json !== 'object') return undefined;
  try {
    return compileJsonPath(path).first(json);
  } catch (err) {
    if (err instanceof DefinitionError) return undefined;
    throw err;
  }
}
