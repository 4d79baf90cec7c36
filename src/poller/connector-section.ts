import type { ConnectorSection, SectionReport } from '../connectors/section.js';
import { escapePointer } from '../connectors/section.js';
import type { ConnectorDefinition, PollerObjectDefinition } from '../connectors/schema.js';
import { graphqlListingProblems } from '../connectors/graphql-listing.js';
import { deltaProblems } from '../connectors/delta.js';
import { resolvePollerObject } from '../connectors/resolve.js';
import { datesConfigurationProblems } from '../connectors/dates-configuration.js';
import { pollerEventsMapping, validateMapping } from '../connectors/event-mapping.js';
import { validateDateTemplates } from '../templates/date-template.js';

/**
 * `events.poller` and webhook mode's `events.webhook.poller`: each object resolves to a provider
 * listing (its resource, hub and where clauses), its templates and paths are valid, its dates
 * configuration is one the poller reads, and an event-log object's mapping compiles.
 */
export const pollerSection: ConnectorSection = {
  name: 'events.poller',
  validate(def, report) {
    for (const [objectType, obj] of Object.entries(def.events?.poller ?? {})) validateObject(def, objectType, obj, `/events/poller`, report);
    for (const [objectType, obj] of Object.entries(def.events?.webhook?.poller ?? {})) validateObject(def, objectType, obj, `/events/webhook/poller`, report);
  },
};

function validateObject(def: ConnectorDefinition, objectType: string, obj: PollerObjectDefinition, section: string, report: SectionReport): void {
  const at = `${section}/${escapePointer(objectType)}`;
  // A GraphQL listing's problems are reported at their own fields, not again at /url.
  const graphql = graphqlListingProblems(obj.graphql, obj as unknown as Record<string, unknown>);
  for (const p of graphql) report.add(`${at}/graphql${p.key ? `/${p.key}` : ''}`, p.message);
  // A change feed's window and baseline come as a pair; a mismatch is reported where it is, not again at /url.
  const unpaired = Boolean(obj.window?.maxSeconds) !== Boolean(obj.baseline);
  if (unpaired && obj.baseline) report.add(`${at}/baseline`, 'needs window.maxSeconds, the age of the since-time past which it runs');
  if (unpaired && !obj.baseline) report.add(`${at}/window/maxSeconds`, 'needs a baseline listing, what runs when the since-time is older');
  for (const p of deltaProblems(obj.delta, obj as unknown as Record<string, unknown>)) report.add(`${at}/delta${p.key ? `/${p.key}` : ''}`, p.message);
  report.check(`${at}/url`, () => {
    validateDateTemplates(obj.url);
    const checked = { ...obj, ...(graphql.length ? { graphql: undefined } : {}), ...(unpaired ? { window: undefined, baseline: undefined } : {}) };
    resolvePollerObject(def, objectType, checked as unknown as Record<string, unknown>);
  });
  report.path(`${at}/idField`, obj.idField);
  for (const key of ['updatedDateField', 'createdDateField'] as const) {
    const field = obj.datesConfiguration?.[key];
    if (typeof field === 'string' && field.trim() !== '') report.path(`${at}/datesConfiguration/${key}`, field);
  }
  report.strings(`${at}/url`, obj.url);
  report.strings(`${at}/headers`, obj.headers);
  report.strings(`${at}/body`, obj.body, { dates: true });
  report.path(`${at}/recordsPath`, obj.recordsPath);
  report.pagination(`${at}/pagination`, obj.pagination);
  report.path(`${at}/deletedWhen/path`, obj.deletedWhen?.path);
  if (obj.deleted) {
    const deleted = obj.deleted;
    report.check(`${at}/deleted/url`, () => validateDateTemplates(deleted.url));
    report.strings(`${at}/deleted/headers`, deleted.headers);
    report.strings(`${at}/deleted/body`, deleted.body, { dates: true });
    report.path(`${at}/deleted/recordsPath`, deleted.recordsPath);
    report.path(`${at}/deleted/window/coveredPath`, deleted.window?.coveredPath);
    report.pagination(`${at}/deleted/pagination`, deleted.pagination);
  }
  if (obj.baseline) {
    const baseline = obj.baseline;
    report.check(`${at}/baseline/url`, () => validateDateTemplates(baseline.url));
    report.strings(`${at}/baseline/url`, baseline.url);
    report.strings(`${at}/baseline/headers`, baseline.headers);
    report.path(`${at}/baseline/recordsPath`, baseline.recordsPath);
    report.path(`${at}/baseline/idField`, baseline.idField);
    report.pagination(`${at}/baseline/pagination`, baseline.pagination);
  }
  for (const p of datesConfigurationProblems(obj.datesConfiguration)) report.add(`${at}/datesConfiguration${p.key ? `/${p.key}` : ''}`, p.message);
  if (obj.events) report.check(`${at}/events`, () => validateMapping(pollerEventsMapping(objectType, obj.events!)));
}
