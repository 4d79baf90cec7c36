import type { Knex } from 'knex';

/**
 * Multi-row INSERT … VALUES (…), (…) with as many rows per statement as the bound-parameter limits
 * allow (SQLite 32766, PostgreSQL 65535). Written by hand because knex renders SQLite multi-row
 * inserts as a compound SELECT, capped at 500 rows and slow to build; the hot path of a poll
 * (events, snapshots) writes tens of thousands of rows.
 */
const MAX_PARAMETERS = 30_000;

export interface BulkOptions {
  /** On a conflict on these columns, overwrite `merge` with the new row's values, or (no `merge`) skip the row. */
  onConflict?: { columns: string[]; merge?: string[] };
  /** Columns of the rows actually inserted (or updated) to give back. */
  returning?: string[];
}

export async function bulkInsert(db: Knex, table: string, rows: Array<Record<string, unknown>>, o: BulkOptions = {}): Promise<Array<Record<string, unknown>>> {
  const returned: Array<Record<string, unknown>> = [];
  if (rows.length === 0) return returned;
  const columns = Object.keys(rows[0]);
  const perRow = `(${columns.map(() => '?').join(',')})`;
  const chunk = Math.max(1, Math.floor(MAX_PARAMETERS / columns.length));
  const head = `insert into ${quote(table)} (${columns.map(quote).join(',')}) values `;
  const merge = o.onConflict?.merge ?? [];
  const conflict = !o.onConflict
    ? ''
    : ` on conflict (${o.onConflict.columns.map(quote).join(',')}) ${merge.length ? `do update set ${merge.map((c) => `${quote(c)} = excluded.${quote(c)}`).join(', ')}` : 'do nothing'}`;
  const tail = conflict + (o.returning ? ` returning ${o.returning.map(quote).join(',')}` : '');
  for (let i = 0; i < rows.length; i += chunk) {
    const part = rows.slice(i, i + chunk);
    const bindings: unknown[] = [];
    for (const row of part) for (const c of columns) bindings.push(row[c] ?? null);
    const result = await db.raw(head + new Array(part.length).fill(perRow).join(',') + tail, bindings as Knex.RawBinding[]);
    // node-pg answers {rows}, sqlite3 an array of rows.
    if (o.returning) returned.push(...((Array.isArray(result) ? result : result.rows) as Array<Record<string, unknown>>));
  }
  return returned;
}

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}
