import { format, parse } from 'date-fns';
import { TZDate, tz, tzName } from '@date-fns/tz';
import { DefinitionError } from '../errors.js';

/**
 * The poller's date template language: `${date:FMT}` (the since-time in the instance's time zone),
 * `${gmtDate:FMT}` (in UTC), `${epoch:s}` / `${epoch}` (seconds) and `${epoch:ms}` / `${epochMs}`.
 * FMT is a Java SimpleDateFormat pattern, compiled once to date-fns; a letter we do not support is
 * refused at load time rather than producing a wrong date.
 */
const TEMPLATE = /\$\{([A-Za-z]+)(?::([^}]*))?\}/g;
const DEFAULT_DATE_PATTERN = "yyyy-MM-dd'T'HH:mm:ssXXX";
const DEFAULT_GMT_PATTERN = "yyyy-MM-dd'T'HH:mm:ss'Z'";
export const SUPPORTED_PATTERN_LETTERS = 'y M d H h k K m s S a E z Z X';

/** A date-fns pattern fragment, or a Java letter date-fns prints differently (S, SS, X, z). */
type Piece = string | ((date: TZDate) => string);

interface CompiledPattern {
  pieces: Piece[];
  /** The date-fns pattern for parsing; null when the pattern has a letter date-fns cannot parse (z). */
  parsePattern: string | null;
  /** Starts like ISO 8601, so an ISO string with an explicit offset can take the fast path. */
  isoLike: boolean;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Java's single X: "Z" for UTC, else the offset's sign and hours only (+05 for +05:30, as Java does). */
function javaHourOffset(date: TZDate): string {
  const minutes = -date.getTimezoneOffset();
  if (minutes === 0) return 'Z';
  return `${minutes < 0 ? '-' : '+'}${pad(Math.trunc(Math.abs(minutes) / 60), 2)}`;
}

/** The text of a Java quoted literal starting at `start` (a quote), and the index after it. */
function readQuoted(pattern: string, start: number): { text: string; end: number } {
  if (pattern[start + 1] === "'") return { text: "'", end: start + 2 }; // '' outside quotes: one quote
  let text = '';
  for (let i = start + 1; i < pattern.length; i++) {
    if (pattern[i] !== "'") {
      text += pattern[i];
    } else if (pattern[i + 1] === "'") {
      text += "'"; // '' inside quotes: one quote
      i++;
    } else {
      return { text, end: i + 1 };
    }
  }
  throw new DefinitionError(`date pattern "${pattern}": unterminated quote`);
}

function compile(pattern: string): CompiledPattern {
  if (pattern === '') throw new DefinitionError('date pattern is empty');
  const pieces: Piece[] = [];
  let parsePattern: string | null = '';
  const same = (fns: string, parseAs = fns) => {
    // Consecutive date-fns fragments are joined: one format() call for most patterns.
    if (typeof pieces[pieces.length - 1] === 'string') pieces[pieces.length - 1] += fns;
    else pieces.push(fns);
    if (parsePattern !== null) parsePattern += parseAs;
  };
  const custom = (fn: (date: TZDate) => string, parseAs: string | null) => {
    pieces.push(fn);
    parsePattern = parseAs === null || parsePattern === null ? null : parsePattern + parseAs;
  };

  for (let i = 0; i < pattern.length; ) {
    const ch = pattern[i];
    if (ch === "'") {
      const { text, end } = readQuoted(pattern, i);
      same(text === "'" ? "''" : `'${text.replaceAll("'", "''")}'`);
      i = end;
      continue;
    }
    if (!/[A-Za-z]/.test(ch)) {
      same(ch);
      i++;
      continue;
    }
    let n = 1;
    while (pattern[i + n] === ch) n++;
    switch (ch) {
      case 'y': // yy: two digits; any other count: the full year, zero-padded to the count
      case 'd':
      case 'H':
      case 'h':
      case 'k':
      case 'K':
      case 'm':
      case 's':
        same(ch.repeat(n));
        break;
      case 'M':
        same(n >= 4 ? 'MMMM' : ch.repeat(n)); // MMMM and longer: the full month name
        break;
      case 'E':
        same(n >= 4 ? 'EEEE' : 'EEE');
        break;
      case 'a':
        same('a'); // AM / PM for any count (date-fns' aaa would print lower case)
        break;
      case 'S':
        // Java's S is the millisecond number padded to n digits; date-fns' S is a decimal fraction.
        if (n === 3) same('SSS');
        else custom((d) => pad(d.getMilliseconds(), n), 'S'.repeat(n));
        break;
      case 'Z':
        same('xx'); // RFC 822: +0100, +0000 for UTC
        break;
      case 'X':
        if (n > 3) throw new DefinitionError(`date pattern "${pattern}": X may repeat at most 3 times`);
        if (n === 1) custom(javaHourOffset, 'X');
        else same(ch.repeat(n)); // XX: +0100 or Z; XXX: +01:00 or Z
        break;
      case 'z':
        custom((d) => tzName(d.timeZone ?? 'UTC', d, n >= 4 ? 'long' : 'short'), null);
        break;
      default:
        throw new DefinitionError(
          `date pattern "${pattern}": the letter "${ch}" is not supported (supported: ${SUPPORTED_PATTERN_LETTERS}, and quoted literals)`,
        );
    }
    i += n;
  }
  return { pieces, parsePattern, isoLike: pattern.startsWith("yyyy-MM-dd'T'HH:mm") };
}

// Patterns come from connector files and instance configuration: a bounded cache, not a leak.
const compiled = new Map<string, CompiledPattern>();
function compiledPattern(pattern: string): CompiledPattern {
  let c = compiled.get(pattern);
  if (c === undefined) {
    c = compile(pattern);
    if (compiled.size >= 1000) compiled.clear();
    compiled.set(pattern, c);
  }
  return c;
}

/** Throws DefinitionError naming the pattern and the letter when a Java pattern is not supported. */
export function checkJavaPattern(pattern: string): void {
  compiledPattern(pattern);
}

/**
 * Epoch spellings a date format may take instead of a Java pattern: `epoch:s` and `epoch:ms` (as in
 * `${epoch:s}`), and Cloud Elements' `milliseconds` (its datesConfiguration's name for epoch:ms).
 */
const EPOCH_FORMATS: Record<string, 's' | 'ms'> = { 'epoch:s': 's', 'epoch:ms': 'ms', milliseconds: 'ms' };

/** The epoch unit a date format names, or undefined for a Java pattern. */
export function epochUnitOf(format: string | undefined): 's' | 'ms' | undefined {
  return format !== undefined && Object.hasOwn(EPOCH_FORMATS, format) ? EPOCH_FORMATS[format] : undefined;
}

/** Throws DefinitionError unless `format` is an epoch spelling or a supported Java pattern. */
export function checkDateFormat(format: string): void {
  if (epochUnitOf(format) === undefined) checkJavaPattern(format);
}

/** Formats a time with a Java SimpleDateFormat pattern in an IANA time zone (default UTC). */
export function formatJavaDate(date: Date | number, pattern: string, timeZone = 'UTC'): string {
  const c = compiledPattern(pattern);
  const at = new TZDate(typeof date === 'number' ? date : date.getTime(), timeZone);
  if (Number.isNaN(at.getTime())) throw new DefinitionError(`cannot format date ${String(date)} in time zone "${timeZone}"`);
  let out = '';
  for (const piece of c.pieces) out += typeof piece === 'string' ? format(at, piece) : piece(at);
  return out;
}

const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/**
 * Parses a provider's date with a Java pattern (local times read in `timeZone`); falls back to
 * `Date.parse` when the pattern does not match; null if neither reads it.
 */
export function parseJavaDate(text: string, pattern: string, timeZone = 'UTC'): Date | null {
  let c: CompiledPattern | undefined;
  try {
    c = compiledPattern(pattern);
  } catch {
    c = undefined; // an unsupported pattern: only the generic parser is left
  }
  // The common case on the hot path: an ISO pattern and an ISO value with its own offset.
  if (c?.isoLike && ISO_WITH_OFFSET.test(text)) {
    const ms = Date.parse(text);
    if (!Number.isNaN(ms)) return new Date(ms);
  }
  if (c?.parsePattern) {
    try {
      const parsed = parse(text, c.parsePattern, new Date(0), { in: tz(timeZone) });
      if (!Number.isNaN(parsed.getTime())) return new Date(parsed.getTime());
    } catch {
      // fall through to the generic parser
    }
  }
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : new Date(ms);
}

function renderOne(kind: string, arg: string | undefined, since: number, timeZone: string, now = since): string {
  switch (kind) {
    case 'gmtNow':
      // The poll's own start, for providers that want a closed window (Salesforce's getDeleted end).
      return formatJavaDate(now, arg ?? DEFAULT_GMT_PATTERN, 'UTC');
    case 'date':
      return formatJavaDate(since, arg ?? DEFAULT_DATE_PATTERN, timeZone);
    case 'gmtDate':
      return formatJavaDate(since, arg ?? DEFAULT_GMT_PATTERN, 'UTC');
    case 'epoch':
      if (arg === 'ms') return String(since);
      if (arg === undefined || arg === 's') return String(Math.floor(since / 1000));
      throw new DefinitionError(`template \${epoch:${arg}}: use \${epoch:s} or \${epoch:ms}`);
    case 'epochMs':
      if (arg === undefined) return String(since);
      throw new DefinitionError(`template \${epochMs:${arg}}: \${epochMs} takes no argument`);
    default:
      throw new DefinitionError(`unknown template \${${kind}${arg === undefined ? '' : `:${arg}`}}: use date, gmtDate, gmtNow, epoch or epochMs`);
  }
}

/** Throws DefinitionError for an unknown or malformed `${…}` or an unsupported pattern letter. */
export function validateDateTemplates(text: string): void {
  for (const m of text.matchAll(TEMPLATE)) renderOne(m[1], m[2], 0, 'UTC');
  const rest = text.replace(TEMPLATE, '');
  const stray = rest.indexOf('${');
  if (stray !== -1)
    throw new DefinitionError(`malformed template "${rest.slice(stray, stray + 30)}": use \${date:FMT}, \${gmtDate:FMT}, \${epoch:s} or \${epoch:ms}`);
}

export interface DateRenderOptions {
  /** IANA zone of `${date:…}`; default UTC. */
  timeZone?: string;
  /** URL-encode each substituted value (URLs); false for JSON bodies. */
  encode: boolean;
  /** What `${gmtNow:…}` renders (the poll's start); default the since-time. */
  now?: number;
}

export function renderDateTemplates(text: string, since: Date | number, opts: DateRenderOptions): string {
  if (!text.includes('${')) return text;
  const ms = typeof since === 'number' ? since : since.getTime();
  return text.replace(TEMPLATE, (_all, kind: string, arg: string | undefined) => {
    const value = renderOne(kind, arg, ms, opts.timeZone ?? 'UTC', opts.now);
    return opts.encode ? encodeURIComponent(value) : value;
  });
}

/** Renders every string inside a JSON value (request bodies of search APIs); never URL-encodes. */
export function renderDateTemplatesDeep(value: unknown, since: Date | number, opts: Omit<DateRenderOptions, 'encode'> & { encode?: boolean }): unknown {
  const o = { timeZone: opts.timeZone, encode: opts.encode ?? false, now: opts.now };
  if (typeof value === 'string') return renderDateTemplates(value, since, o);
  if (Array.isArray(value)) return value.map((v) => renderDateTemplatesDeep(v, since, o));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderDateTemplatesDeep(v, since, o)]));
  }
  return value;
}
