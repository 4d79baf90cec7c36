import type { ConnectorDefinition, PaginationDefinition } from './schema.js';

/**
 * A part of the connector format that a feature owns (`auth`, `events.poller`, `events.webhook`,
 * `events.lookups`…). The format's JSON Schema checks the shape of every part; what a schema
 * cannot say about a part (its templates resolve, its paths compile, the names it uses exist) is
 * checked by the feature that reads it, through a section it declares in its own folder. The list
 * of sections is put together outside connectors/ (src/connector-sections.ts) and handed to the
 * registry, so the format never imports a feature and a new feature adds a section instead of
 * editing the format's validator.
 */
export interface ConnectorSection {
  /** The part of a definition the section checks, as in docs/connectors.md: "events.webhook". */
  readonly name: string;
  /** Reports every problem of its part into `report`; runs only on a definition that passed the JSON Schema. */
  validate(def: ConnectorDefinition, report: SectionReport): void;
}

/** Where a section reports problems, each at a JSON Pointer field, with the format's common checks. */
export interface SectionReport {
  /** The iparam names the connector's templates may use: its configuration fields and the gateway's keys. */
  readonly declared: ReadonlySet<string>;
  /** The keys of the connector's own configuration fields (what a value saved into the configuration may name). */
  readonly fields: ReadonlySet<string>;
  /** The keys of its `secret: true` configuration fields. */
  readonly secrets: ReadonlySet<string>;
  add(field: string, message: string): void;
  /** Runs `fn`; a thrown error becomes a problem at `field` (or at the field the error's first detail names). */
  check(field: string, fn: () => void): void;
  /** Template tags valid everywhere; date templates too where `dates`; no secret in a URL where `url`. */
  strings(field: string, value: unknown, o?: { url?: boolean; dates?: boolean }): void;
  /** A path (JSONPath or dotted, lib/json-path.ts) compiles. */
  path(field: string, path: string | undefined): void;
  /** A pagination block holds only its type's fields, and its paths compile. */
  pagination(field: string, p: PaginationDefinition | undefined): void;
}

/** A key as one JSON Pointer step (`a/b` → `a~1b`). */
export function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}
