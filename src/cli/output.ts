/**
 * What client commands print: `--json` writes the gateway's answer as JSON for scripts; otherwise
 * a plain table (or key/value lines) for people.
 */
export type Cell = string | number | boolean | null | undefined;

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
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
  const s = String(value);
  // One line per row: long texts (errors) are cut.
  const flat = s.replace(/\s+/g, ' ');
  return flat.length > 80 ? `${flat.slice(0, 77)}...` : flat;
}

/** An ISO date as `2026-11-25 13:20:05` (UTC), or '-'. */
export function shortDate(iso: string | null | undefined): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : '-';
}
