import type { Description, JsonObject } from './description.js';
import { type ListOperation, type Parameter, propertiesOf, typeOf } from './operations.js';
import type { Finding } from './report.js';

/**
 * How a list operation is asked for changes and paged: the query parameter that filters by update
 * time (with its date template), sort and scope parameters that keep every record in view, and the
 * paging scheme with the response field that carries the next cursor.
 */

const query = (op: ListOperation) => op.parameters.filter((p) => p.in === 'query');
const describes = (p: Parameter, re: RegExp) => re.test(p.description);

const UPDATE_FILTER_NAME =
  /^(since|updated_?since|modified_?since|changed_?since|updated_?after|modified_?after|updated_?at(\[(gt|gte)\])?|filter\[updated_?at\](\[(gt|gte)\])?|last_?modified_?(since|after)|if_?modified_?since|updated_?min|start_?time)$/i;
const UPDATE_FILTER_TEXT = /(updated|modified|changed)\b[^.]{0,40}\b(since|after|on or after|later than)/i;
const CREATED_FILTER_NAME = /^(created|created_?(at|since|after)|created\[(gt|gte)\])$/i;

/** The template a date parameter is rendered with, from its schema. */
function dateTemplateOf(p: Parameter): { template: string; confidence: Finding['confidence']; note?: string } {
  if (p.type === 'integer' || p.type === 'number') {
    const ms = /milli|(^|_)ms\b/i.test(`${p.name} ${p.description}`);
    return { template: ms ? '${epoch:ms}' : '${epoch:s}', confidence: 'high' };
  }
  if (p.format === 'date') return { template: '${gmtDate:yyyy-MM-dd}', confidence: 'high' };
  if (p.format === 'date-time') return { template: "${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}", confidence: 'high' };
  if (/ISO.?8601|timestamp|date.?time|YYYY-MM-DDTHH/i.test(p.description)) {
    return { template: "${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}", confidence: 'medium', note: 'the description names an ISO 8601 time; the schema has no format' };
  }
  return {
    template: "${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}",
    confidence: 'low',
    note: 'the parameter has no date format: ISO 8601 assumed — check it against the provider',
  };
}

export interface ChangeFilter {
  /** Query string pieces, already rendered (`since=${gmtDate:…}`). */
  params: string[];
  findings: Finding[];
  todo: string[];
}

/** The update-time filter and the parameters that keep the listing complete and ordered. */
export function changeFilterOf(op: ListOperation): ChangeFilter {
  const params: string[] = [];
  const findings: Finding[] = [];
  const todo: string[] = [];
  const q = query(op);
  const byName = q.find((p) => UPDATE_FILTER_NAME.test(p.name) && p.properties.length === 0);
  const byText = byName ?? q.find((p) => p.properties.length === 0 && describes(p, UPDATE_FILTER_TEXT));
  const range = q.find((p) => /updated|modified/i.test(p.name) && p.properties.some((k) => /^(gt|gte)$/.test(k)));
  if (byText) {
    const t = dateTemplateOf(byText);
    params.push(`${byText.name}=${t.template}`);
    findings.push({
      what: 'changeFilter',
      value: `${byText.name}=${t.template}`,
      from: byText.at,
      confidence: byName ? t.confidence : 'medium',
      ...(t.note ? { note: t.note } : {}),
    });
  } else if (range) {
    const op2 = range.properties.includes('gte') ? 'gte' : 'gt';
    params.push(`${range.name}[${op2}]=\${epoch:s}`);
    findings.push({
      what: 'changeFilter',
      value: `${range.name}[${op2}]=\${epoch:s}`,
      from: range.at,
      confidence: 'medium',
      note: 'a range object; epoch seconds assumed',
    });
  } else {
    const created = q.find((p) => CREATED_FILTER_NAME.test(p.name));
    const search = q.find((p) => p.type === 'string' && /^(q|query|jql|filter|search|where|soql)$/i.test(p.name));
    if (search) todo.push(`"${search.name}" takes a query: a filter by update time may be written in its language (${search.at})`);
    todo.push(
      created
        ? `no filter by update time; "${created.name}" filters by creation only (new records, not changes): polls list everything and compare (set "deletes" for DELETED events)`
        : 'no filter by update time found: every poll lists all records and compares them (set "deletes" for DELETED events)',
    );
  }
  for (const p of q) {
    // Sort by update time, oldest first, so a listing cut short resumes where it stopped.
    if (/^(sort|sort_?by|order_?by)$/i.test(p.name) && p.enum) {
      const value = p.enum.find((v) => typeof v === 'string' && /^(updated|updated_?at|modified)$/i.test(v));
      if (value !== undefined) {
        params.push(`${p.name}=${value}`);
        findings.push({ what: 'sort', value: `${p.name}=${value}`, from: p.at, confidence: 'high' });
      }
    } else if (/^(direction|order|sort_?order)$/i.test(p.name) && p.enum?.includes('asc')) {
      params.push(`${p.name}=asc`);
      findings.push({ what: 'sort', value: `${p.name}=asc`, from: p.at, confidence: 'high' });
    } else if (p.enum?.includes('all') && p.default !== undefined && p.default !== 'all') {
      // A scope filter whose default hides records (GitHub's state=open): ask for all of them.
      params.push(`${p.name}=all`);
      findings.push({
        what: 'scope',
        value: `${p.name}=all`,
        from: p.at,
        confidence: 'high',
        note: `defaults to ${JSON.stringify(p.default)}, which would hide records`,
      });
    }
  }
  return { params, findings, todo };
}

const PAGE_SIZE = /^(per_?page|page_?size|pagesize|limit|size|max_?results|count|top|\$top)$/i;
const CURSOR_PARAM = /^(starting_?after|after|cursor|page_?token|next_?page_?token|continuation_?token|next|marker|page\[after\]|page\[cursor\])$/i;
const NEXT_FIELD = /^(next|next_?cursor|next_?page_?token|nextpagetoken|after|cursor|next_?marker|continuation_?token|starting_?after)$/i;

function sizeOf(p: Parameter): { size: number; note?: string } {
  if (p.maximum) return { size: p.maximum };
  const stated = p.description.match(/max(?:imum)?[^0-9]{0,20}(\d{1,5})/i);
  if (stated) return { size: Number(stated[1]), note: 'the maximum is stated in the parameter description' };
  if (typeof p.default === 'number') return { size: p.default, note: 'no maximum declared: the default page size' };
  return { size: 100, note: 'no maximum or default declared: 100 assumed' };
}

/** A JSONPath to a field of the response that names the next cursor, searched two levels deep. */
function nextCursorPath(schema: JsonObject): { path: string; name: string } | undefined {
  const props = propertiesOf(schema);
  for (const [name, s] of props) if (NEXT_FIELD.test(name) && typeOf(s) !== 'object' && typeOf(s) !== 'array') return { path: `$.${name}`, name };
  for (const [outer, s] of props) {
    if (typeOf(s) !== 'object') continue;
    for (const [name, inner] of propertiesOf(s)) {
      if (NEXT_FIELD.test(name) && typeOf(inner) !== 'object') return { path: `$.${outer}.${name}`, name };
      if (typeOf(inner) === 'object' && /^next$/i.test(name)) {
        const deep = [...propertiesOf(inner).keys()].find((k) => NEXT_FIELD.test(k));
        if (deep) return { path: `$.${outer}.${name}.${deep}`, name: deep };
      }
    }
  }
  return undefined;
}

export interface Paging {
  pagination?: JsonObject;
  /** Size parameter rendered into the URL (cursor and link schemes). */
  params: string[];
  findings: Finding[];
  todo: string[];
}

/** The paging scheme: Link headers, a cursor, page numbers or offsets — whichever the description declares. */
export function pagingOf(d: Description, op: ListOperation, recordsPath: string | undefined): Paging {
  const q = query(op);
  const size = q.find((p) => PAGE_SIZE.test(p.name) && (p.type === 'integer' || p.type === 'number'));
  const sizeNote = size ? sizeOf(size) : undefined;
  const at = op.response ? (d.pointerOf(op.response.schema) ?? op.response.at) : op.at;
  const sized = (extra: JsonObject) => (size && sizeNote ? { ...extra, sizeParam: size.name, size: sizeNote.size } : extra);
  const sizeFinding: Finding[] =
    size && sizeNote
      ? [
          {
            what: 'pageSize',
            value: sizeNote.size,
            from: size.at,
            confidence: sizeNote.note ? 'medium' : 'high',
            ...(sizeNote.note ? { note: sizeNote.note } : {}),
          },
        ]
      : [];

  if (op.responseHeaders.includes('link')) {
    return {
      pagination: { type: 'link' },
      params: size && sizeNote ? [`${size.name}=${sizeNote.size}`] : [],
      findings: [
        { what: 'pagination', value: 'link', from: `${op.at}/responses`, confidence: 'high', note: 'the success response declares a Link header' },
        ...sizeFinding,
      ],
      todo: [],
    };
  }
  const cursorParam = q.find((p) => CURSOR_PARAM.test(p.name));
  if (cursorParam && op.response) {
    const next = nextCursorPath(op.response.schema);
    const hasMore = [...propertiesOf(op.response.schema)].find(([n, s]) => /^(has_?more|hasmore)$/i.test(n) && typeOf(s) === 'boolean');
    const lastIsLast = [...propertiesOf(op.response.schema)].find(([n, s]) => /^is_?last$/i.test(n) && typeOf(s) === 'boolean');
    // Stripe-style: the cursor is the last record's id, and has_more says whether to go on.
    const cursorPath = next?.path ?? (hasMore && recordsPath ? `${recordsPath.replace(/\[\*\]$/, '')}[-1:].id` : undefined);
    if (cursorPath) {
      return {
        pagination: {
          type: 'cursor',
          cursorPath,
          cursorParam: cursorParam.name,
          ...(hasMore ? { hasMorePath: `$.${hasMore[0]}` } : {}),
          ...(lastIsLast ? { stopPath: `$.${lastIsLast[0]}` } : {}),
        },
        params: size && sizeNote ? [`${size.name}=${sizeNote.size}`] : [],
        findings: [
          {
            what: 'pagination',
            value: 'cursor',
            from: cursorParam.at,
            confidence: next ? 'high' : 'medium',
            note: next ? `next cursor at ${at}/properties/${next.name}` : 'the cursor is the last record id (has_more declared)',
          },
          ...sizeFinding,
        ],
        todo: [],
      };
    }
  }
  const page = q.find((p) => /^(page|page_?number|pagenumber)$/i.test(p.name) && (p.type === 'integer' || p.type === 'number'));
  if (page) {
    const firstPage = typeof page.default === 'number' ? page.default : 1;
    return {
      pagination: sized({ type: 'page', pageParam: page.name, ...(firstPage !== 1 ? { firstPage } : {}) }),
      params: [],
      findings: [{ what: 'pagination', value: 'page', from: page.at, confidence: size ? 'high' : 'medium' }, ...sizeFinding],
      todo: size
        ? []
        : [
            'page numbers without a page-size parameter: the end of the listing is a page with fewer records than the size — set "size" to the provider\'s page size',
          ],
    };
  }
  const offset = q.find((p) => /^(offset|skip|start|start_?at|\$skip)$/i.test(p.name));
  if (offset) {
    return {
      pagination: sized({ type: 'offset', offsetParam: offset.name }),
      params: [],
      findings: [{ what: 'pagination', value: 'offset', from: offset.at, confidence: 'high' }, ...sizeFinding],
      todo: [],
    };
  }
  const undeclared = op.response ? nextCursorPath(op.response.schema) : undefined;
  return {
    params: size && sizeNote ? [`${size.name}=${sizeNote.size}`] : [],
    findings: sizeFinding,
    todo: [
      undeclared
        ? `the answer carries a next cursor at ${undeclared.path}, but the operation declares no parameter to send it back: check the provider's docs and add a "cursor" pagination`
        : 'no paging declared: only the first page is read — add "pagination" if the provider pages this listing',
    ],
  };
}
