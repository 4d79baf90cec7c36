// A few DOM helpers: elements are built with textContent only (no HTML strings), so nothing a
// provider or a user typed can turn into markup.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** A table: `columns` are [header, (row) => cell, className?]. */
export function table(columns, rows, o = {}) {
  return h('table', { 'data-table': o.name },
    h('thead', {}, h('tr', {}, columns.map(([title]) => h('th', {}, title)))),
    h('tbody', {}, rows.length === 0
      ? h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, o.empty ?? 'none'))
      : rows.map((row) => h('tr', { 'data-id': o.idOf?.(row) }, columns.map(([, cell, cls]) => h('td', { class: cls }, cell(row) ?? '–'))))),
  );
}

export const badge = (text, cls = text) => h('span', { class: `badge ${cls}` }, text);

/** ISO → "2026-11-25 13:20:05" (UTC), or a dash. */
export const when = (iso) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : '–');

export const seconds = (s) => (s === null || s === undefined ? '–' : s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`);
