import type { Knex } from 'knex';
import { isPostgres } from './index.js';

/**
 * Bulk INSERT for the hot paths (a poll's events and snapshots, webhook receipts, attempts), which
 * write up to tens of thousands of rows. SQLite: multi-row VALUES with as many rows as its 32766
 * bound parameters allow (knex renders SQLite multi-row inserts as a compound SELECT capped at 500
 * rows). PostgreSQL: the rows as one JSON parameter expanded by json_populate_recordset.
 * Optional upsert or skip on conflict, and RETURNING.
 */
const MAX_PARAMETERS = 30_000;
const PG_JSON_ROWS = 5000;

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
  // Columns with one value in every row (the instance, the poll's time…) are sent once, the others
  // per row: fewer parameters to bind on SQLite, less JSON to write and parse on PostgreSQL.
  const shared = columns.filter((c) => rows.every((row) => (row[c] ?? null) === (rows[0][c] ?? null)));
  const varying = columns.filter((c) => !shared.includes(c));
  if (isPostgres(db)) {
    // PostgreSQL: the rows as one JSON parameter (only their varying columns; the shared ones as one
    // more object), typed by the table's own row type — far cheaper to parse and plan than tens of
    // thousands of $n placeholders.
    const hoist = shared.length > 0 && varying.length > 0;
    const perRowColumns = hoist ? varying : columns;
    const keys = perRowColumns.map((c, j) => `${j === 0 ? '{' : ','}${JSON.stringify(c)}:`);
    const picked = [...(hoist ? shared.map((c) => `s.${quote(c)}`) : []), ...perRowColumns.map((c) => `v.${quote(c)}`)].join(',');
    const sharedSource = hoist ? `json_populate_record(null::${quote(table)}, ?) as s, ` : '';
    const sharedJson = hoist ? [JSON.stringify(Object.fromEntries(shared.map((c) => [c, rows[0][c] ?? null])))] : [];
    const target = [...(hoist ? shared : []), ...perRowColumns].map(quote).join(',');
    const sql = `insert into ${quote(table)} (${target}) select ${picked} from ${sharedSource}json_populate_recordset(null::${quote(table)}, ?) as v${tail}`;
    for (let i = 0; i < rows.length; i += PG_JSON_ROWS) {
      // Written by hand: one string per row, no intermediate objects.
      let json = '[';
      for (let r = i; r < Math.min(rows.length, i + PG_JSON_ROWS); r++) {
        if (r > i) json += ',';
        for (let j = 0; j < perRowColumns.length; j++) json += keys[j] + (JSON.stringify(rows[r][perRowColumns[j]] ?? null) as string);
        json += '}';
      }
      const result = await db.raw(sql, [...sharedJson, `${json}]`]);
      if (o.returning) returned.push(...(result.rows as Array<Record<string, unknown>>));
    }
    return returned;
  }
  if (shared.length === 0 || varying.length === 0) {
    for (let i = 0; i < rows.length; i += chunk) {
      const part = rows.slice(i, i + chunk);
      const bindings: unknown[] = [];
      for (const row of part) for (const c of columns) bindings.push(row[c] ?? null);
      const result = await db.raw(head + new Array(part.length).fill(perRow).join(',') + tail, bindings as Knex.RawBinding[]);
      if (o.returning) returned.push(...(result as Array<Record<string, unknown>>));
    }
    return returned;
  }
  const varyingRow = `(${varying.map(() => '?').join(',')})`;
  const varyingChunk = Math.max(1, Math.floor(MAX_PARAMETERS / varying.length));
  // `where true` keeps SQLite's parser from reading ON CONFLICT as part of the SELECT.
  const select = `insert into ${quote(table)} (${[...shared, ...varying].map(quote).join(',')}) select ${[...shared.map(() => '?'), ...varying.map((_, j) => `column${j + 1}`)].join(',')} from (values `;
  const sharedValues = shared.map((c) => rows[0][c] ?? null);
  for (let i = 0; i < rows.length; i += varyingChunk) {
    const part = rows.slice(i, i + varyingChunk);
    const bindings: unknown[] = [...sharedValues];
    for (const row of part) for (const c of varying) bindings.push(row[c] ?? null);
    const result = await db.raw(`${select}${new Array(part.length).fill(varyingRow).join(',')}) where true${tail}`, bindings as Knex.RawBinding[]);
    if (o.returning) returned.push(...(result as Array<Record<string, unknown>>));
  }
  return returned;
}

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

/**
 * Bulk UPDATE of rows by key, each row with its own values, a statement per set of columns (and
 * per 1,000 rows) instead of one per row: `rows` are `{[key]: …, column: value, …}`; `where` adds
 * conditions every updated row must meet too (a lease guard). Undefined values are left out, as a
 * knex update would. The rows travel as one JSON parameter (PostgreSQL: typed by the table's row
 * type; SQLite: read with `->>`). Returns the keys of the rows updated (a guard may leave some out).
 */
export async function bulkUpdate(
  db: Knex,
  table: string,
  key: string,
  rows: Array<Record<string, unknown>>,
  where: Record<string, string | number> = {},
): Promise<unknown[]> {
  const bySet = new Map<string, Array<Record<string, unknown>>>();
  for (const row of rows) {
    const defined = Object.fromEntries(Object.entries(row).filter(([, v]) => v !== undefined));
    const set = Object.keys(defined).sort().join(',');
    const group = bySet.get(set);
    if (group) group.push(defined);
    else bySet.set(set, [defined]);
  }
  const updated: unknown[] = [];
  const t = quote(table);
  const guard = Object.keys(where)
    .map((c) => ` and ${t}.${quote(c)} = ?`)
    .join('');
  for (const [set, group] of bySet) {
    const columns = set.split(',').filter((c) => c !== key);
    if (columns.length === 0) continue;
    const assign = columns.map((c) => `${quote(c)} = v.${quote(c)}`).join(', ');
    const source = isPostgres(db)
      ? `json_populate_recordset(null::${t}, ?)`
      : `(select ${[key, ...columns].map((c) => `j.value ->> '$."${c.replace(/"/g, '')}"' as ${quote(c)}`).join(', ')} from json_each(?) as j)`;
    for (let i = 0; i < group.length; i += 1000) {
      const part = JSON.stringify(group.slice(i, i + 1000));
      const result = await db.raw(
        `update ${t} set ${assign} from ${source} as v where ${t}.${quote(key)} = v.${quote(key)}${guard} returning ${t}.${quote(key)}`,
        [part, ...Object.values(where)],
      );
      for (const row of (isPostgres(db) ? result.rows : result) as Array<Record<string, unknown>>) updated.push(row[key]);
    }
  }
  return updated;
}

const DELETE_BATCH = 1000;

/**
 * Deletes the rows `select` picks (by id), a batch at a time so no transaction grows large
 * (retention); returns how many.
 */
export async function deleteInBatches(db: Knex, table: string, select: (q: Knex.QueryBuilder) => Knex.QueryBuilder, idColumn = 'id'): Promise<number> {
  let total = 0;
  for (;;) {
    const ids = (await select(db(table).select(idColumn)).limit(DELETE_BATCH)).map((r: Record<string, unknown>) => r[idColumn]);
    if (ids.length === 0) return total;
    total += await db(table).whereIn(idColumn, ids).delete();
    if (ids.length < DELETE_BATCH) return total;
  }
}
