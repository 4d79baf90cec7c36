import qs from 'qs';
import { XMLBuilder } from 'fast-xml-parser';

/**
 * Callback body formats. JSON is the notification as is. Form bodies flatten nested fields the way
 * Rails/PHP/qs read them back: `events[0][objectId]=42`. XML wraps the notification in
 * `<notification>`, lists events as `<events><event>…</event></events>`, and carries `raw` as JSON
 * text (provider records have keys that are not valid XML names).
 */
export type Format = 'json' | 'xml' | 'form';

const xml = new XMLBuilder({ ignoreAttributes: true, format: false, suppressEmptyNode: false });

export const CONTENT_TYPES: Record<Format, string> = {
  json: 'application/json',
  xml: 'application/xml',
  form: 'application/x-www-form-urlencoded',
};

export function serialize(body: Record<string, unknown>, format: Format): string {
  if (format === 'json') return JSON.stringify(body);
  if (format === 'form') return qs.stringify(body, { encodeValuesOnly: true, allowDots: false });
  const { events, raw, ...rest } = body as { events?: unknown[]; raw?: unknown };
  const doc: Record<string, unknown> = { ...rest };
  if (events !== undefined) doc.events = { event: events };
  if (raw !== undefined) doc.raw = JSON.stringify(raw);
  return `<?xml version="1.0" encoding="UTF-8"?>${xml.build({ notification: doc })}`;
}
