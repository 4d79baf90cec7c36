/**
 * Text rules for what people name things with (instance names, tags, schedule names, keys of API
 * JSON): no control characters, no bidirectional overrides (text that reads differently than it
 * is), no lone surrogates (not valid Unicode, breaks JSON elsewhere), and no keys that name
 * JavaScript's object machinery.
 */
// C0 and C1 controls, DEL, bidi marks/embeddings/overrides/isolates, and the BOM.
const CONTROL_OR_BIDI = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const CONTROL_OR_BIDI_ALL = new RegExp(CONTROL_OR_BIDI.source, 'g');

/**
 * `text` with each control or bidirectional-formatting character written as a visible escape
 * (`\x1b`, `\x9b`, `\u202e`): what a terminal prints then is what the text holds.
 */
export function escapeControls(text: string): string {
  return text.replace(CONTROL_OR_BIDI_ALL, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Why a name is refused, or undefined when it is fine. */
export function unsafeTextReason(text: string): string | undefined {
  if (CONTROL_OR_BIDI.test(text)) return 'must not contain control or bidirectional-formatting characters';
  if (LONE_SURROGATE.test(text)) return 'must not contain unpaired UTF-16 surrogates';
  return undefined;
}

export function unsafeKeyReason(key: string): string | undefined {
  if (RESERVED_KEYS.has(key)) return `"${key}" is not allowed as a key`;
  return unsafeTextReason(key);
}

/** Deepest nesting an API body may have; deeper is refused before any recursive code sees it. */
export const MAX_JSON_DEPTH = 32;

/**
 * Checks every key of a parsed JSON value and its depth, without recursion (so a hostile depth
 * cannot overflow the stack here). Returns the first problem as `{path, message}`.
 */
export function jsonProblem(value: unknown): { field: string; message: string } | undefined {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { value: v, path, depth } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= MAX_JSON_DEPTH) return { field: path || '(body)', message: `nested deeper than ${MAX_JSON_DEPTH} levels` };
    for (const [key, child] of Object.entries(v)) {
      const field = path ? `${path}.${key}` : key;
      const reason = Array.isArray(v) ? undefined : unsafeKeyReason(key);
      if (reason) return { field: JSON.stringify(field).slice(1, -1), message: reason };
      stack.push({ value: child, path: field, depth: depth + 1 });
    }
  }
  return undefined;
}
