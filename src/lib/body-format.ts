import qs from 'qs';
import { XMLBuilder } from 'fast-xml-parser';

/**
 * Callback body formats. JSON is the notification as is. Form bodies flatten nested fields the way
 * Rails/PHP/qs read them back: `events[0][objectId]=42` (keys and values percent-encoded, the
 * brackets left readable). XML wraps the notification in `<notification>`, lists events as
 * `<events><event>…</event></events>`, and carries `raw` (and a scheduled event's `data`) as JSON
 * text: provider records and user data have keys that are not valid XML names.
 */
export type Format = 'json' | 'xml' | 'form';

const xml = new XMLBuilder({ ignoreAttributes: true, format: false, suppressEmptyNode: false });

/** Fields whose keys are not ours: carried as JSON text in XML. */
const OPAQUE_FIELDS = ['raw', 'data'];

export const CONTENT_TYPES: Record<Format, string> = {
  json: 'application/json',
  xml: 'application/xml',
  form: 'application/x-www-form-urlencoded',
};

/** Form keys: percent-encoded like values (so `&`, `=` and spaces in record keys stay intact), brackets kept. */
function encodeFormPart(text: string, fallback: qs.defaultEncoder, charset: string, kind: 'key' | 'value'): string {
  const encoded = fallback(text, fallback, charset);
  return kind === 'key' ? encoded.replace(/%5B/gi, '[').replace(/%5D/gi, ']') : encoded;
}

export function serialize(body: Record<string, unknown>, format: Format): string {
  if (format === 'json') return JSON.stringify(body);
  if (format === 'form') return qs.stringify(body, { encoder: encodeFormPart, format: 'RFC3986' });
  const doc: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (value === undefined || OPAQUE_FIELDS.includes(key)) continue;
    doc[key] = key === 'events' ? { event: value } : value;
  }
  for (const field of OPAQUE_FIELDS) if (body[field] !== undefined) doc[field] = JSON.stringify(body[field]);
  return `<?xml version="1.0" encoding="UTF-8"?>${xml.build({ notification: doc })}`;
}
