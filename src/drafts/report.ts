/**
 * The report that comes with a draft: for each thing inferred, the value, the JSON Pointer into
 * the description it was read from and how sure the drafter is; for each thing it could not
 * infer, a TODO in words a person can act on. Nothing unknown is filled in silently.
 */

export type Confidence = 'high' | 'medium' | 'low';

export interface Finding {
  /** The connector field this fills (`idField`, `pagination`, `changeFilter`, …). */
  what: string;
  value: unknown;
  /** JSON Pointer into the description. */
  from: string;
  confidence: Confidence;
  /** A date's format when it is not ISO 8601 (`epoch:s`). */
  format?: string;
  note?: string;
}

export interface ObjectReport {
  objectType: string;
  path: string;
  /** `#/paths/…/get` */
  operation: string;
  /** False when something the format requires could not be read (the TODOs say what). */
  included: boolean;
  findings: Finding[];
  todo: string[];
}

export interface DraftReport {
  source: { title: string; version: string; description: '2.0' | '3.0' | '3.1' };
  objects: ObjectReport[];
  auth: { findings: Finding[]; todo: string[] };
  webhooks: Array<{ event: string; from: string; payload?: string; idField?: string }>;
  /** Things for the whole connector (base URL, key) a person must decide. */
  todo: string[];
}
