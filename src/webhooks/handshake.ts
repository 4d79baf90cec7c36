import { DefinitionError } from '../errors.js';
import { compileJsonPath, firstMatch } from '../lib/json-path.js';

/**
 * Verification handshakes some providers make before they send events (a connector's
 * `events.webhook.handshake`). Two declarative forms:
 *
 *   {"type": "echo-query", "param": "challenge"}
 *     GET or POST with `?challenge=x` → 200 text/plain `x`
 *     (Meta's `hub.challenge`, Microsoft Graph's `validationToken`).
 *   {"type": "echo-body", "when": {"path": "$.type", "equals": "url_verification"}, "challengePath": "$.challenge"}
 *     a POST whose parsed body has `when.path` equal to `when.equals` (compared as text) →
 *     200 application/json `{"challenge": x}` with x read at `challengePath` (Slack). Without
 *     `when`, any body holding a value at `challengePath` is taken as a handshake.
 *
 * Ingress calls `matchHandshake` before signature checks (providers do not sign the handshake);
 * `null` means "not a handshake": handle the request as a delivery. A challenge longer than
 * 1024 characters, or one that is not a string or number, is not echoed.
 */
export type HandshakeConfig = { type: 'echo-query'; param: string } | { type: 'echo-body'; when?: { path: string; equals: string }; challengePath: string };

export type HandshakeRequest = { method: string; query: URLSearchParams; body: unknown };
export type HandshakeAnswer = { status: number; contentType: string; body: string };

const MAX_CHALLENGE_LENGTH = 1024;

/** The JSON Schema of `events.webhook.handshake`, for the connector schema. */
export const handshakeJsonSchema = {
  oneOf: [
    {
      type: 'object',
      required: ['type', 'param'],
      additionalProperties: false,
      properties: { type: { const: 'echo-query' }, param: { type: 'string', minLength: 1 } },
    },
    {
      type: 'object',
      required: ['type', 'challengePath'],
      additionalProperties: false,
      properties: {
        type: { const: 'echo-body' },
        challengePath: { type: 'string', minLength: 1 },
        when: {
          type: 'object',
          required: ['path', 'equals'],
          additionalProperties: false,
          properties: { path: { type: 'string', minLength: 1 }, equals: { type: 'string' } },
        },
      },
    },
  ],
} as const;

/** Load-time check of a handshake declaration, JSONPaths included; throws a DefinitionError. */
export function validateHandshake(cfg: unknown): asserts cfg is HandshakeConfig {
  const c = (cfg ?? {}) as Record<string, unknown>;
  if (c.type === 'echo-query') {
    if (typeof c.param !== 'string' || !c.param) throw new DefinitionError('handshake echo-query needs "param", the query parameter to echo');
    return;
  }
  if (c.type === 'echo-body') {
    if (typeof c.challengePath !== 'string') throw new DefinitionError('handshake echo-body needs "challengePath", a JSONPath to the challenge');
    compileJsonPath(c.challengePath, 'handshake.challengePath');
    if (c.when !== undefined) {
      const when = c.when as Record<string, unknown>;
      if (typeof when?.path !== 'string' || typeof when.equals !== 'string')
        throw new DefinitionError('handshake.when needs "path" (a JSONPath) and "equals" (a string)');
      compileJsonPath(when.path, 'handshake.when.path');
    }
    return;
  }
  throw new DefinitionError(`handshake type ${JSON.stringify(c.type)} is unknown; use "echo-query" or "echo-body"`);
}

export function matchHandshake(cfg: HandshakeConfig, req: HandshakeRequest): HandshakeAnswer | null {
  const method = req.method.toUpperCase();
  if (method !== 'GET' && method !== 'POST') return null;
  if (cfg.type === 'echo-query') {
    const challenge = req.query.get(cfg.param);
    if (!challenge || challenge.length > MAX_CHALLENGE_LENGTH) return null;
    return { status: 200, contentType: 'text/plain', body: challenge };
  }
  if (cfg.type === 'echo-body') {
    if (method !== 'POST' || req.body === null || typeof req.body !== 'object') return null;
    if (cfg.when) {
      const actual = firstMatch(req.body, cfg.when.path);
      if (actual === undefined || actual === null || String(actual) !== cfg.when.equals) return null;
    }
    const challenge = firstMatch(req.body, cfg.challengePath);
    if ((typeof challenge !== 'string' && typeof challenge !== 'number') || String(challenge).length === 0 || String(challenge).length > MAX_CHALLENGE_LENGTH)
      return null;
    return { status: 200, contentType: 'application/json', body: JSON.stringify({ challenge }) };
  }
  return null;
}
