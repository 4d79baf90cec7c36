import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, DefinitionError, ValidationError } from '../errors.js';
import type { ConnectorDefinition } from './schema.js';
import type { ConnectorSection } from './section.js';
import { validateConnector } from './validate.js';

export interface ConnectorSummary {
  key: string;
  name: string;
  hub: string | null;
  eventModes: string[];
  /** Poller object types and resources. */
  objectTypes: string[];
  configuration: Array<{ key: string; required: boolean; secret: boolean; default?: string | number | boolean }>;
  bundled: boolean;
}

/** A bundled connector file, parsed and validated (DefinitionError naming the file otherwise). */
function validatedFile(path: string, text: string, sections: readonly ConnectorSection[]): ConnectorDefinition {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DefinitionError(`connector file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return validateConnector(json, `file ${path}`, sections);
}

/**
 * The connectors a gateway knows: the bundled files of connectors/ (loaded at start; an invalid
 * file stops start-up naming file and field) and custom ones registered through the API, each
 * checked against the format and the given sections.
 */
export class ConnectorRegistry {
  private readonly defs = new Map<string, ConnectorDefinition>();
  private readonly bundled = new Set<string>();

  constructor(private readonly sections: readonly ConnectorSection[]) {}

  static async loadDirectory(dir: string, sections: readonly ConnectorSection[]): Promise<ConnectorRegistry> {
    const registry = new ConnectorRegistry(sections);
    const fileOf = new Map<string, string>();
    let files: string[] = [];
    try {
      files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const file of files) {
      const path = join(dir, file);
      const def = validatedFile(path, await readFile(path, 'utf8'), sections);
      const other = fileOf.get(def.key);
      if (other) throw new DefinitionError(`connector file ${path}: key "${def.key}" is already defined by ${other}`);
      fileOf.set(def.key, file);
      registry.defs.set(def.key, def);
      registry.bundled.add(def.key);
    }
    return registry;
  }

  get(key: string): ConnectorDefinition | undefined {
    return this.defs.get(key);
  }

  has(key: string): boolean {
    return this.defs.has(key);
  }

  /** The connector, or a 400 naming the key (a route that wants 404 checks `has` first). */
  require(key: string): ConnectorDefinition {
    const def = this.defs.get(key);
    if (!def) throw new ValidationError(`unknown connector "${key}"`, [{ field: 'element.key', message: `unknown connector "${key}"` }]);
    return def;
  }

  list(): ConnectorDefinition[] {
    return [...this.defs.values()].sort((a, b) => a.key.localeCompare(b.key));
  }

  /** The definition when it is valid (DefinitionError naming `source` and the field otherwise). */
  validate(input: unknown, source: string): ConnectorDefinition {
    return validateConnector(input, source, this.sections);
  }

  /** A custom connector from the API, validated; a bundled key cannot be replaced (409). */
  validateCustom(input: unknown, o: { source: string }): ConnectorDefinition {
    const def = this.validate(input, o.source);
    if (this.bundled.has(def.key)) throw new ConflictError(`connector "${def.key}" is bundled with pollgate and cannot be replaced`);
    return def;
  }

  /** Validates and adds a custom connector to this registry only (the catalog stores it for all nodes). */
  register(input: unknown, o: { source: string }): ConnectorDefinition {
    const def = this.validateCustom(input, o);
    this.defs.set(def.key, def);
    return def;
  }

  isBundled(key: string): boolean {
    return this.bundled.has(key);
  }

  /**
   * Replaces every custom connector with the stored ones (the catalog calls this when another node
   * changed them). A stored definition that no longer validates is skipped and reported.
   */
  replaceCustom(stored: unknown[], onInvalid: (err: Error) => void): void {
    for (const key of [...this.defs.keys()]) if (!this.bundled.has(key)) this.defs.delete(key);
    for (const input of stored) {
      try {
        this.add(input);
      } catch (err) {
        onInvalid(err as Error);
      }
    }
  }

  /**
   * Re-adds a stored custom connector at start, without the conflict check (validated again: the
   * format may have moved on). A bundled file of the same key, added to connectors/ since, wins.
   */
  add(input: unknown, o: { source?: string } = {}): ConnectorDefinition {
    const def = this.validate(input, o.source ?? 'the database');
    if (this.bundled.has(def.key)) return this.defs.get(def.key)!;
    this.defs.set(def.key, def);
    return def;
  }

  /** What GET /elements shows of a connector. */
  summary(def: ConnectorDefinition): ConnectorSummary {
    return {
      key: def.key,
      name: def.name,
      hub: def.hub ?? null,
      eventModes: def.events?.supported ?? [],
      objectTypes: [
        ...new Set([...Object.keys(def.events?.poller ?? {}), ...Object.keys(def.events?.webhook?.poller ?? {}), ...Object.keys(def.resources ?? {})]),
      ],
      configuration: (def.configuration ?? []).map((f) => ({
        key: f.key,
        required: Boolean(f.required),
        secret: Boolean(f.secret),
        ...(f.default !== undefined ? { default: f.default } : {}),
      })),
      bundled: this.bundled.has(def.key),
    };
  }
}
