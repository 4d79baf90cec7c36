import { firstMatch } from '../lib/json-path.js';
import { replaceTags, tagExpressions } from '../lib/template-tags.js';

/**
 * Templated callbacks: `event.notification.callback.template` builds one request per event from
 * tags, and tags may stand in the callback URL too. Tags: `<%= event.objectId %>`, `event.eventType`,
 * `event.objectType`, `event.date`, `event.sequence`, `event.elementKey`, `<%= raw.<path> %>` (the
 * event's record; dotted names with `[n]` indexes), `instance.id`, `instance.name`, `notification.id`.
 * Each value is escaped for where it lands: JSON string content, XML text, or URL/form encoding.
 */
export type Escape = 'json' | 'xml' | 'url' | 'none';
export interface TemplateData {
  event: Record<string, unknown>;
  raw: unknown;
  instance: { id: number; name: string };
  notification: { id: string };
}

// Only tags made of these characters are looked up; any other is left as written (validation refuses it).
const RENDERED_TAG = /^[\w.$[\]'"-]+$/;
// `raw` paths: dotted names with optional array indexes, e.g. raw.lines[0].sku.
const KNOWN = /^(event\.(objectId|eventType|objectType|date|sequence|elementKey)|instance\.(id|name)|notification\.id|raw(\.[\w$-]+(\[\d+\])*)*)$/;

/** The problems of a template (unknown tags), as `{field, message}` for a 400. */
export function validateCallbackTemplate(text: string, field: string): Array<{ field: string; message: string }> {
  const problems: Array<{ field: string; message: string }> = [];
  for (const tag of tagExpressions(text)) {
    if (!KNOWN.test(tag))
      problems.push({
        field,
        message: `unknown tag "<%= ${tag} %>" (known: event.objectId, event.eventType, event.objectType, event.date, event.sequence, event.elementKey, raw.<path>, instance.id, instance.name, notification.id)`,
      });
  }
  return problems;
}

function lookup(tag: string, data: TemplateData): unknown {
  if (tag === 'raw') return data.raw;
  if (tag.startsWith('raw.')) return firstMatch(data.raw, `$.${tag.slice(4)}`);
  const [root, key] = tag.split('.');
  return (data as unknown as Record<string, Record<string, unknown>>)[root]?.[key];
}

function escapeFor(value: string, how: Escape): string {
  if (how === 'json') return JSON.stringify(value).slice(1, -1);
  if (how === 'url') return encodeURIComponent(value);
  if (how === 'xml') return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  return value;
}

export function renderCallbackTemplate(text: string, data: TemplateData, how: Escape): string {
  return replaceTags(text, (tag, written) => {
    if (!RENDERED_TAG.test(tag)) return written;
    const v = lookup(tag, data);
    const s = v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return escapeFor(s, how);
  });
}
