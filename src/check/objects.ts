import { mergeDeep } from '../config/index.js';
import type { ConnectorDefinition } from '../connectors/schema.js';
import { resolvePollerObject } from '../connectors/resolve.js';
import type { Instance } from '../instances/store.js';
import { listingPages } from '../provider/listing.js';
import { parseDate } from '../connectors/dates-configuration.js';
import { firstMatch } from '../lib/json-path.js';
import { graphqlPageSender } from '../provider/graphql-listing.js';
import type { ProviderCalls, ProviderTarget } from '../provider/calls.js';
import { buildResourceRequest } from '../provider/request-builder.js';
import { renderDateTemplates, renderDateTemplatesDeep } from '../templates/date-template.js';
import { RateBudgetWait } from '../provider/rate-budget.js';
import { NotChecked, type CheckLine, type CheckProbe } from './probe.js';

/**
 * The object lines of an instance check: the first page of each object type's listing, fetched the
 * way the poller fetches it (same request, pagination, records path, auth) but from the start of
 * time — a full listing's first page, so there are records to look at — and read the way the poller
 * reads it: every record must have the id field, and the date fields the object declares must be
 * present and readable in their declared format. Nothing is diffed or stored.
 */
type Dates = { updatedDateField?: string; updatedDateFormat?: string; createdDateField?: string; createdDateFormat?: string };

interface Problem {
  field: string;
  record: number;
  message: string;
  value?: unknown;
}

/** Problems listed per line, at most (the first of each field matter; the rest are alike). */
const MAX_PROBLEMS = 5;

export async function checkObject(
  calls: ProviderCalls,
  probe: CheckProbe,
  o: { connector: ConnectorDefinition; instance: Instance; objectType: string; config: Record<string, unknown>; timeZone: string; now: number },
): Promise<CheckLine> {
  const name = `object:${o.objectType}`;
  let resolved: ReturnType<typeof resolvePollerObject>;
  try {
    resolved = resolvePollerObject(o.connector, o.objectType, o.config);
  } catch (err) {
    return { name, status: 'failed', detail: `the object's poller configuration is not usable: ${(err as Error).message}` };
  }
  const scope = { iparam: o.instance.configuration, context: {} };
  const target: ProviderTarget = { connector: o.connector, configuration: o.instance.configuration, instanceId: o.instance.id, scope };
  const since = 0;
  const render = { timeZone: o.timeZone, now: o.now };
  let records: Record<string, unknown>[];
  try {
    const baseUrl = await calls.baseUrlOf(target);
    const path = renderDateTemplates(resolved.path, since, { ...render, encode: true });
    const query = Object.fromEntries(Object.entries(resolved.query).map(([k, v]) => [k, renderDateTemplates(String(v), since, { ...render, encode: false })]));
    const body = resolved.body === undefined ? undefined : renderDateTemplatesDeep(resolved.body, since, render);
    const pages = listingPages({
      pagination: resolved.pagination,
      recordsPath: resolved.recordsPath,
      maxPages: 1,
      build: (parts) =>
        buildResourceRequest({
          baseUrl,
          method: resolved.method,
          path,
          query: { ...query, ...parts.query },
          headers: resolved.headers,
          body: parts.body !== undefined ? mergeDeep((body as Record<string, unknown>) ?? {}, parts.body as Record<string, unknown>) : body,
          scope,
        }),
      // A GraphQL listing's page is checked for GraphQL errors and read from its connection; the
      // check makes one call, so it never waits for a query cost to restore.
      send: resolved.graphql
        ? graphqlPageSender(resolved.graphql, (request) => probe.send(target, request), {
            sleep: calls.sleep,
            now: () => o.now,
            maxWaitMs: 0,
            label: `${o.connector.key} ${o.objectType}`,
          })
        : (request) => probe.send(target, request),
    });
    const step = await pages.next();
    records = step.done ? [] : step.value;
    await pages.return({ pages: 1, complete: false });
  } catch (err) {
    const { text, details } = probe.describe(err);
    // Not an answer about this object: the budget is spent for now, or the credentials were refused.
    const waiting = err instanceof RateBudgetWait || err instanceof NotChecked;
    return { name, status: waiting ? 'warning' : 'failed', detail: waiting ? text : `the first page could not be fetched: ${text}`, details };
  }

  if (records.length === 0)
    return {
      name,
      status: 'warning',
      detail: 'the first page holds no records: the id and date fields could not be verified',
      details: { records: 0 },
    };
  const problems = recordProblems(records, resolved.idField, resolved.datesConfiguration as Dates | undefined, o.timeZone);
  const fields = [resolved.idField, ...dateFieldsOf(resolved.datesConfiguration as Dates | undefined).map((d) => d.field)];
  if (problems.length === 0)
    return {
      name,
      status: 'ok',
      detail: `first page: ${records.length} record(s), each with ${fields.map((f) => `"${f}"`).join(', ')} readable`,
      details: { records: records.length, fields },
    };
  const shown = problems.slice(0, MAX_PROBLEMS);
  return {
    name,
    status: 'failed',
    detail: `first page: ${records.length} record(s); ${shown.map((p) => `record ${p.record}: ${p.message}`).join('; ')}${problems.length > shown.length ? `; ${problems.length - shown.length} more` : ''}`,
    details: { records: records.length, fields, problems: shown },
  };
}

function dateFieldsOf(dates: Dates | undefined): Array<{ field: string; format: string | undefined }> {
  const out: Array<{ field: string; format: string | undefined }> = [];
  if (dates?.updatedDateField) out.push({ field: dates.updatedDateField, format: dates.updatedDateFormat });
  if (dates?.createdDateField) out.push({ field: dates.createdDateField, format: dates.createdDateFormat });
  return out;
}

/** Each missing id and each missing or unreadable date, the first of each field first. */
function recordProblems(records: Record<string, unknown>[], idField: string, dates: Dates | undefined, timeZone: string): Problem[] {
  const problems: Problem[] = [];
  const dateFields = dateFieldsOf(dates);
  records.forEach((record, i) => {
    const n = i + 1;
    const id = firstMatch(record, idField);
    if (id === undefined || id === null || id === '') {
      problems.push({ field: idField, record: n, message: `the id field "${idField}" is missing (the poller would skip this record)` });
    }
    for (const { field, format } of dateFields) {
      const value = firstMatch(record, field);
      if (value === undefined || value === null || value === '') {
        problems.push({ field, record: n, message: `the date field "${field}" is missing` });
      } else if (parseDate(value, format, timeZone) === undefined) {
        const shown = JSON.stringify(value).slice(0, 60);
        problems.push({
          field,
          record: n,
          value: shown,
          message: `the date field "${field}" holds ${shown}, not a date${format ? ` in the format "${format}"` : ''}`,
        });
      }
    }
  });
  // One problem per field first, so a line of five names every broken field before repeating one.
  const firsts = problems.filter((p, i) => problems.findIndex((q) => q.field === p.field) === i);
  return [...firsts, ...problems.filter((p) => !firsts.includes(p))];
}
