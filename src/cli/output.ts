import { escapeControls } from '../api/text.js';

/**
 * What client commands print: `--json` writes the gateway's answer as JSON for scripts; otherwise
 * a plain table (or key/value lines) for people. Text from the gateway holds what providers and
 * callers wrote (names, ids, error messages): its control and bidi-formatting characters are
 * printed as escapes, never sent to the terminal to act on (colours, cursor moves, a rewritten line).
 */
export type Cell = string | number | boolean | null | undefined;

// What JSON.stringify leaves raw: DEL, C1 controls (a terminal may read U+009B as CSI), bidi marks, the BOM.
const RAW_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** JSON whose strings hold no raw control or bidi character: `\uXXXX` escapes read back as the same value. */
export function jsonText(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(RAW_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${jsonText(value, 2)}\n`);
}

/** One line of text for people, its control characters escaped. */
export function printLine(text: string): void {
  process.stdout.write(`${escapeControls(text)}\n`);
}

/** Columns padded to their widest cell; an empty list prints the `empty` line instead. */
export function printTable(headers: string[], rows: Cell[][], empty = '(none)'): void {
  if (rows.length === 0) {
    process.stdout.write(`${empty}\n`);
    return;
  }
  const text = rows.map((r) => r.map(cellText));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${[line(headers.map((h) => h.toUpperCase())), ...text.map(line)].join('\n')}\n`);
}

/** `key: value` lines, aligned. */
export function printFields(fields: Array<[string, Cell]>): void {
  const width = Math.max(...fields.map(([k]) => k.length));
  process.stdout.write(`${fields.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${cellText(v)}`).join('\n')}\n`);
}

function cellText(value: Cell): string {
  if (value === null || value === undefined || value === '') return '-';
  // One line per row (white space runs become one space), the rest of the controls escaped;
  // long texts (errors) are cut.
  const flat = escapeControls(String(value).replace(/\s+/g, ' '));
  return flat.length > 80 ? `${flat.slice(0, 77)}...` : flat;
}

/** An ISO date as `2026-11-25 13:20:05` (UTC), or '-'. */
export function shortDate(iso: string | null | undefined): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : '-';
}
