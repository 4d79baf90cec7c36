import { format, parse } from 'date-fns';
import { TZDate, tz } from '@date-fns/tz';
import { DefinitionError } from '../errors.js';

/**
 * The poller's date template language: `${date:FMT}` (the since-time in the instance's time zone),
 * `${gmtDate:FMT}` (in UTC), `${epoch:s}` / `${epoch}` (seconds) and `${epoch:ms}` / `${epochMs}`.
 * FMT is a Java SimpleDateFormat pattern, translated once to date-fns; a letter we do not support
 * is refused at load time rather than producing a wrong date.
 */
const TEMPLATE = /\$\{([A-Za-z]+)(?::([^}]*))?\}/g;

// Java letter → date-fns letter, where the meaning is the same for every repeat count.
const SAME = new Set(['y', 'M', 'd', 'H', 'h', 'm', 's', 'S', 'a', 'E', 'X', 'k', 'K']);

/** Translates a Java SimpleDateFormat pattern to a date-fns pattern, or throws naming the letter. */
export function javaToDateFns(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; ) {
    const ch = pattern[i];
    if (ch === "'") {
      // Quoted literal ('T'), or '' for a single quote: the same syntax in date-fns.
      const end = pattern.indexOf("'", i + 1);
      if (end === -1) throw new DefinitionError(`date pattern "${pattern}": unterminated quote`);
      out += pattern.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    if (!/[A-Za-z]/.test(ch)) {
      out += ch;
      i++;
      continue;
    }
    let n = 1;
    while (pattern[i + n] === ch) n++;
    if (SAME.has(ch)) {
      if (ch === 'X' && n > 3) throw new DefinitionError(`date pattern "${pattern}": X may repeat at most 3 times`);
      if (ch === 'S' && n > 3) throw new DefinitionError(`date pattern "${pattern}": S (milliseconds) may repeat at most 3 times`);
      // Java's S is milliseconds, date-fns' S a fraction: SSS prints the same, S and SS do not.
      out += ch === 'S' ? 'SSS' : ch === 'E' ? (n >= 4 ? 'EEEE' : 'EEE') : ch.repeat(n);
    } else if (ch === 'Z') {
      out += 'xx'; // RFC 822 offset: +0100, +0000 for UTC
    } else if (ch === 'z') {
      out += n >= 4 ? 'zzzz' : 'zzz';
    } else {
      throw new DefinitionError(`date pattern "${pattern}": the letter "${ch}" is not supported (supported: y M d H h k K m s S a E z Z X, quoted literals)`);
    }
    i += n;
  }
  return out;
}

const translated = new Map<string, string>();
function fnsPattern(pattern: string): string {
  let p = translated.get(pattern);
  if (p === undefined) {
    p = javaToDateFns(pattern);
    translated.set(pattern, p);
  }
  return p;
}

export function formatJavaDate(date: Date | number, pattern: string, timeZone = 'UTC'): string {
  return format(new TZDate(typeof date === 'number' ? date : date.getTime(), timeZone), fnsPattern(pattern));
}

/** Parses a provider's date with a Java pattern; falls back to ISO/RFC parsing; null if neither. */
export function parseJavaDate(text: string, pattern: string, timeZone = 'UTC'): Date | null {
  try {
    const parsed = parse(text, fnsPattern(pattern), new Date(0), { in: tz(timeZone) });
    if (!Number.isNaN(parsed.getTime())) return new Date(parsed.getTime());
  } catch {
    // fall through to the generic parser
  }
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : new Date(ms);
}

function renderOne(kind: string, arg: string | undefined, since: number, timeZone: string): string {
  switch (kind) {
    case 'date':
      return formatJavaDate(since, arg ?? "yyyy-MM-dd'T'HH:mm:ssXXX", timeZone);
    case 'gmtDate':
      return formatJavaDate(since, arg ?? "yyyy-MM-dd'T'HH:mm:ss'Z'", 'UTC');
    case 'epoch':
      if (arg === 'ms') return String(since);
      if (arg === undefined || arg === 's') return String(Math.floor(since / 1000));
      throw new DefinitionError(`\${epoch:${arg}}: use \${epoch:s} or \${epoch:ms}`);
    case 'epochMs':
      return String(since);
    default:
      throw new DefinitionError(`unknown template \${${kind}${arg === undefined ? '' : `:${arg}`}}: use date, gmtDate, epoch or epochMs`);
  }
}

/** Throws DefinitionError for an unknown `${…}` or an unsupported pattern letter. */
export function validateDateTemplates(text: string): void {
  for (const m of text.matchAll(TEMPLATE)) renderOne(m[1], m[2], 0, 'UTC');
}

export interface DateRenderOptions {
  timeZone?: string;
  /** URL-encode each substituted value (URLs); false for JSON bodies. */
  encode: boolean;
}

export function renderDateTemplates(text: string, since: Date | number, opts: DateRenderOptions): string {
  const ms = typeof since === 'number' ? since : since.getTime();
  return text.replace(TEMPLATE, (_all, kind: string, arg: string | undefined) => {
    const value = renderOne(kind, arg, ms, opts.timeZone ?? 'UTC');
    return opts.encode ? encodeURIComponent(value) : value;
  });
}

/** Renders every string inside a JSON value (request bodies of search APIs). */
export function renderDateTemplatesDeep(value: unknown, since: Date | number, opts: DateRenderOptions): unknown {
  if (typeof value === 'string') return renderDateTemplates(value, since, opts);
  if (Array.isArray(value)) return value.map((v) => renderDateTemplatesDeep(v, since, opts));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderDateTemplatesDeep(v, since, opts)]));
  }
  return value;
}
