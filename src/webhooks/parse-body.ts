import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { UnsupportedMediaTypeError, ValidationError } from '../errors.js';

/**
 * Parsing webhook bodies by content type. Bodies are read as UTF-8 (a `charset` parameter is not
 * honoured: the stored receipt is UTF-8 text too, and mapping re-parses it).
 *
 * - JSON: `application/json` and any `application/<x>+json`; a leading byte-order mark is skipped.
 * - XML: `application/xml`, `text/xml` and `application/<x>+xml`, with fast-xml-parser. The shape:
 *   the root element is the one key of the result (the `<?xml …?>` declaration is dropped); an
 *   element with only text becomes that text as a string — values are never converted, so `007`
 *   stays "007"; attributes become `@_<name>` keys (in a JSONPath, escape the `@` with a backtick:
 *   `` $.`@_id ``, since jsonpath-plus reads `@…` as a type selector); an element with attributes
 *   and text keeps the text under `#text`; an empty element becomes ""; an element that repeats becomes an array, and
 *   one that occurs once does not — so `<events><event>…</event></events>` gives
 *   `{events: {event: {…}}}` for one event and `{events: {event: [{…}, {…}]}}` for two. Write the
 *   mapping's `itemsPath` as `$.events.event` (not `[*]`): it then yields one item either way.
 *   Example: `<ticket id="7"><subject>Hi</subject><tag>a</tag><tag>b</tag></ticket>` →
 *   `{ticket: {'@_id': '7', subject: 'Hi', tag: ['a', 'b']}}`.
 * - `application/x-www-form-urlencoded`: an object of strings; a key that repeats becomes an array
 *   of strings. A field holding JSON (Slack's `payload`) stays a string: nothing is guessed.
 */
export const ACCEPTED_WEBHOOK_TYPES = ['application/json', 'application/xml', 'text/xml', 'application/x-www-form-urlencoded'] as const;

/** What the 415 answer lists: the types above and the structured-syntax suffixes. */
const ACCEPTED_FOR_MESSAGE = [...ACCEPTED_WEBHOOK_TYPES, 'application/*+json', 'application/*+xml'];

type BodyKind = 'json' | 'xml' | 'form';

const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

/** The media type without parameters, lower-cased; '' when absent. */
export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

function bodyKind(mediaType: string): BodyKind | undefined {
  if (mediaType === 'application/json' || /^application\/[\w.-]+\+json$/.test(mediaType)) return 'json';
  if (mediaType === 'application/xml' || mediaType === 'text/xml' || /^application\/[\w.-]+\+xml$/.test(mediaType)) return 'xml';
  if (mediaType === 'application/x-www-form-urlencoded') return 'form';
  return undefined;
}

/** Whether `parseWebhookBody` accepts this Content-Type (lets ingress answer 415 before reading). */
export function isAcceptedWebhookType(contentType: string | undefined): boolean {
  return bodyKind(mediaTypeOf(contentType)) !== undefined;
}

/**
 * Parses a webhook body. Throws UnsupportedMediaTypeError (415) for another content type and
 * ValidationError (400) for a body that does not parse as its type says.
 */
export function parseWebhookBody(rawBody: Buffer, contentType: string | undefined): unknown {
  const mediaType = mediaTypeOf(contentType);
  const kind = bodyKind(mediaType);
  if (!kind) throw new UnsupportedMediaTypeError(mediaType || '(none)', ACCEPTED_FOR_MESSAGE);
  const text = rawBody.toString('utf8');
  switch (kind) {
    case 'json':
      return parseJson(text);
    case 'xml':
      return parseXml(text);
    case 'form':
      return parseForm(text);
  }
}

function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(withoutBom(text));
  } catch (err) {
    throw new ValidationError(`malformed JSON body: ${(err as Error).message}`);
  }
}

function parseXml(text: string): unknown {
  const source = withoutBom(text);
  const valid = XMLValidator.validate(source);
  if (valid !== true) throw new ValidationError(`malformed XML body: ${valid.err.msg} (line ${valid.err.line})`);
  try {
    return xml.parse(source);
  } catch (err) {
    // The parser's own limits: nesting depth, entity sizes, names such as __proto__.
    throw new ValidationError(`malformed XML body: ${(err as Error).message}`);
  }
}

function parseForm(text: string): Record<string, string | string[]> {
  const fields = new Map<string, string | string[]>();
  for (const [key, value] of new URLSearchParams(text)) {
    const previous = fields.get(key);
    if (previous === undefined) fields.set(key, value);
    else if (Array.isArray(previous)) previous.push(value);
    else fields.set(key, [previous, value]);
  }
  // fromEntries defines own properties, so a field named "__proto__" is kept as data.
  return Object.fromEntries(fields);
}
