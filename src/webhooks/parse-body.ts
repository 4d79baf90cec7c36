import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { UnsupportedMediaTypeError, ValidationError } from '../errors.js';

/**
 * Parsing webhook bodies: JSON (and `+json`), XML (fast-xml-parser: attributes as `@_name`, values
 * kept as strings so ids do not lose digits) and `application/x-www-form-urlencoded` (repeated keys
 * become arrays; a field holding JSON, as Slack's `payload`, stays a string).
 */
export const ACCEPTED_WEBHOOK_TYPES = ['application/json', 'application/xml', 'text/xml', 'application/x-www-form-urlencoded'] as const;

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', parseTagValue: false, parseAttributeValue: false });

export function parseWebhookBody(rawBody: Buffer, contentType: string | undefined): unknown {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  const text = rawBody.toString('utf8');
  if (type === 'application/json' || /^application\/[\w.-]+\+json$/.test(type)) {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new ValidationError(`malformed JSON body: ${(err as Error).message}`);
    }
  }
  if (type === 'application/xml' || type === 'text/xml' || /^application\/[\w.-]+\+xml$/.test(type)) {
    const valid = XMLValidator.validate(text);
    if (valid !== true) throw new ValidationError(`malformed XML body: ${valid.err.msg} (line ${valid.err.line})`);
    return xml.parse(text);
  }
  if (type === 'application/x-www-form-urlencoded') {
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of new URLSearchParams(text)) {
      const prev = out[k];
      out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    return out;
  }
  throw new UnsupportedMediaTypeError(type || '(none)', [...ACCEPTED_WEBHOOK_TYPES]);
}

