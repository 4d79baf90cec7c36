import { checkDateFormat, epochUnitOf, parseJavaDate } from '../templates/date-template.js';

/**
 * A poller object's `datesConfiguration`: where a record's updated and created dates are and how
 * they are written. The same rules wherever it comes from (a connector file, POST /elements, an
 * instance's `event.poller.configuration`): known keys only, fields non-empty strings, formats
 * Java patterns as in `${date:…}` (or an epoch spelling), and a format only beside its field —
 * a setting that would be read as nothing is refused rather than ignored.
 */
const FIELDS = { updatedDateFormat: 'updatedDateField', createdDateFormat: 'createdDateField' } as const;
const KEYS = ['updatedDateField', 'updatedDateFormat', 'createdDateField', 'createdDateFormat'];

/** `{key, message}` per problem; `key` is '' for the value as a whole. */
export function datesConfigurationProblems(value: unknown): Array<{ key: string; message: string }> {
  if (value === undefined) return [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [{ key: '', message: `must be an object with ${KEYS.join(', ')}` }];
  const dates = value as Record<string, unknown>;
  const problems: Array<{ key: string; message: string }> = [];
  for (const [key, v] of Object.entries(dates)) {
    if (!KEYS.includes(key)) problems.push({ key, message: `is not a datesConfiguration field (its fields: ${KEYS.join(', ')})` });
    else if (typeof v !== 'string' || v.trim() === '') problems.push({ key, message: 'must be a non-empty string' });
  }
  for (const [format, field] of Object.entries(FIELDS)) {
    const pattern = dates[format];
    if (typeof pattern !== 'string' || pattern.trim() === '') continue;
    try {
      checkDateFormat(pattern);
    } catch (err) {
      problems.push({ key: format, message: `${(err as Error).message}; or "epoch:s", "epoch:ms" ("milliseconds") for epoch times` });
    }
    if (dates[field] === undefined) problems.push({ key: field, message: `is required with ${format}` });
  }
  return problems;
}

/** A record's date as the poller reads it (epoch ms), or undefined when it cannot be read; the instance check reports the same. */
export function parseDate(value: unknown, format: string | undefined, tz: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const epoch = epochUnitOf(format);
  if (epoch) {
    // Epoch times may come as numbers or as numeric strings ("1764061200000").
    const n = typeof value === 'number' ? value : Number(String(value).trim());
    return Number.isFinite(n) ? (epoch === 's' ? n * 1000 : n) : undefined;
  }
  if (typeof value === 'number') return value < 1e11 ? value * 1000 : value;
  const parsed = format ? parseJavaDate(String(value), format, tz) : new Date(String(value));
  const ms = parsed?.getTime();
  return ms === undefined || Number.isNaN(ms) ? undefined : ms;
}
