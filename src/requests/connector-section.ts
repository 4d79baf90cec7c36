import type { ConnectorSection, SectionReport } from '../connectors/section.js';
import { escapePointer } from '../connectors/section.js';
import type { ConnectorDefinition } from '../connectors/schema.js';
import { SETTING_KEYS } from '../connectors/settings-keys.js';

/** The one instance setting a lookup may fill in: the time zone poller dates are written in. */
const LOOKUP_SETTING = SETTING_KEYS.timezone;

/** `events.lookups`: known request templates; values saved under the connector's keys or the poller's time zone. */
export const lookupSection: ConnectorSection = {
  name: 'events.lookups',
  validate(def: ConnectorDefinition, report: SectionReport): void {
    (def.events?.lookups ?? []).forEach((lookup, i) => {
      const at = `/events/lookups/${i}`;
      if (!def.requests?.[lookup.request]) report.add(`${at}/request`, `names request template "${lookup.request}", which is not defined under requests`);
      for (const [key, path] of Object.entries(lookup.save)) {
        const field = `${at}/save/${escapePointer(key)}`;
        if (key !== LOOKUP_SETTING && !report.fields.has(key))
          report.add(field, `names "${key}", which is neither a configuration field of this connector nor ${LOOKUP_SETTING}`);
        report.path(field, path);
      }
    });
  },
};
