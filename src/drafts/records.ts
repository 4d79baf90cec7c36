import { type Description, isObject, type JsonObject } from './description.js';
import { type ListOperation, propertiesOf, typeOf } from './operations.js';
import type { Finding } from './report.js';

/**
 * What a list operation's records look like: where they are in the answer, which field is the
 * id, which fields carry the updated and created dates. Each answer says where in the
 * description it was read; what cannot be read is left undefined for the report to name.
 */

const RECORD_ARRAYS = ['data', 'results', 'items', 'records', 'values', 'elements', 'entries', 'objects'];

export interface Records {
  /** JSONPath to the records; undefined when the body is the array itself. */
  recordsPath: string | undefined;
  item: JsonObject;
  itemAt: string;
}

/** Where the records of a response are, or why they could not be found. */
export function recordsOf(d: Description, op: ListOperation, objectType: string): { records?: Records; finding?: Finding; todo?: string } {
  if (!op.response) return { todo: 'the operation declares no JSON success response: records unknown' };
  const { schema, at } = op.response;
  const here = d.pointerOf(schema) ?? at;
  if (typeOf(schema) === 'array') {
    const item = isObject(schema.items) ? schema.items : {};
    return {
      records: { recordsPath: undefined, item, itemAt: d.pointerOf(item) ?? `${here}/items` },
      finding: { what: 'recordsPath', value: '(the body is the array)', from: here, confidence: 'high' },
    };
  }
  const arrays = [...propertiesOf(schema)].filter(([, s]) => typeOf(s) === 'array');
  if (arrays.length === 0) return { todo: `the success response (${here}) holds no array of records` };
  const preferred = arrays.find(([name]) => RECORD_ARRAYS.includes(name) || name === objectType);
  const chosen = arrays.length === 1 ? arrays[0] : preferred;
  if (!chosen) {
    return { todo: `the success response (${here}) holds several arrays (${arrays.map(([n]) => n).join(', ')}): choose the records' recordsPath` };
  }
  const [name, array] = chosen;
  const item = isObject(array.items) ? array.items : {};
  return {
    records: { recordsPath: `$.${name}[*]`, item, itemAt: d.pointerOf(item) ?? `${here}/properties/${name}/items` },
    finding: {
      what: 'recordsPath',
      value: `$.${name}[*]`,
      from: `${here}/properties/${name}`,
      confidence: arrays.length === 1 ? 'high' : 'medium',
      ...(arrays.length > 1 ? { note: `chosen by name among ${arrays.map(([n]) => n).join(', ')}` } : {}),
    },
  };
}

const singular = (word: string) => word.replace(/ies$/, 'y').replace(/s$/, '');

/**
 * The record's id: a property `id`; else `<object>Id`/`<object>_id`; else the path parameter of the
 * item operation (`/things/{thing_id}`) when the record has that property; else a read-only `…id`.
 */
export function idFieldOf(records: Records, op: ListOperation, all: ListOperation[], objectType: string): { finding?: Finding; todo?: string } {
  const props = propertiesOf(records.item);
  const at = (name: string) => `${records.itemAt}/properties/${name}`;
  if (props.has('id')) return { finding: { what: 'idField', value: 'id', from: at('id'), confidence: 'high' } };
  const base = singular(objectType).toLowerCase();
  const named = [...props.keys()].find((k) => k.toLowerCase() === `${base}id` || k.toLowerCase() === `${base}_id`);
  if (named) return { finding: { what: 'idField', value: named, from: at(named), confidence: 'medium', note: `named after the object (${objectType})` } };
  const itemOp = all.find((o) => new RegExp(`^${escapeRegExp(op.path)}/\\{([^}/]+)\\}$`).test(o.path));
  const param = itemOp?.path.match(/\{([^}/]+)\}$/)?.[1];
  if (param && props.has(param)) {
    return { finding: { what: 'idField', value: param, from: at(param), confidence: 'medium', note: `the path parameter of ${itemOp?.at}` } };
  }
  const readOnly = [...props].filter(([k, s]) => s.readOnly === true && /id$/i.test(k)).map(([k]) => k);
  if (readOnly.length === 1)
    return { finding: { what: 'idField', value: readOnly[0], from: at(readOnly[0]), confidence: 'low', note: 'the only read-only identifier' } };
  return { todo: `no id field found in the record schema (${records.itemAt}): the object is left out until one is chosen` };
}

const UPDATED = /^(last_?)?(updated|modified|changed|edited)(_?(at|on|time|date|date_?time|timestamp))?$|^lastmodifieddate$|^hs_lastmodifieddate$/i;
const CREATED = /^(created|creation|inserted)(_?(at|on|time|date|date_?time|timestamp))?$|^createdate$/i;

/** A date field's format for datesConfiguration: ISO strings need none; epoch numbers say their unit. */
function dateFormatOf(name: string, schema: JsonObject): { format?: string; date: boolean } {
  const type = typeOf(schema);
  if (type === 'string') return { date: schema.format === 'date-time' || schema.format === 'date' };
  if (type === 'integer' || type === 'number') {
    const text = `${name} ${typeof schema.description === 'string' ? schema.description : ''}`;
    return { date: true, format: /milli|(^|_)ms\b/i.test(text) ? 'epoch:ms' : 'epoch:s' };
  }
  return { date: false };
}

/** The updated and created date fields, each with its format when it is not ISO 8601. */
export function dateFieldsOf(records: Records): Finding[] {
  const findings: Finding[] = [];
  const props = [...propertiesOf(records.item)];
  for (const [what, pattern] of [
    ['updatedDateField', UPDATED],
    ['createdDateField', CREATED],
  ] as const) {
    const match = props.map(([name, s]) => ({ name, s, f: dateFormatOf(name, s) })).find((p) => pattern.test(p.name) && p.f.date);
    if (!match) continue;
    findings.push({
      what,
      value: match.name,
      from: `${records.itemAt}/properties/${match.name}`,
      confidence: typeOf(match.s) === 'string' ? 'high' : 'medium',
      ...(match.f.format ? { format: match.f.format } : {}),
    });
  }
  return findings;
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
