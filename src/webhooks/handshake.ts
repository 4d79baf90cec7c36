import { JSONPath } from 'jsonpath-plus';

/**
 * Verification handshakes some providers require before they send events:
 *   {"type": "echo-query", "param": "challenge"}  — GET/POST ?challenge=x → 200 text/plain "x"
 *   {"type": "echo-body", "when": {"path": "$.type", "equals": "url_verification"}, "challengePath": "$.challenge"}
 *                                                  — Slack style → 200 {"challenge": x}
 */
export type HandshakeConfig =
  | { type: 'echo-query'; param: string }
  | { type: 'echo-body'; when?: { path: string; equals: string }; challengePath: string };

export function matchHandshake(cfg: HandshakeConfig, req: { method: string; query: URLSearchParams; body: unknown }): null | { status: number; contentType: string; body: string } {
  if (cfg.type === 'echo-query') {
    const challenge = req.query.get(cfg.param);
    return challenge === null ? null : { status: 200, contentType: 'text/plain', body: challenge };
  }
  if (cfg.type === 'echo-body' && req.body && typeof req.body === 'object') {
    const first = (path: string) => (JSONPath({ path, json: req.body as object, wrap: true }) as unknown[])[0];
    if (cfg.when && String(first(cfg.when.path)) !== cfg.when.equals) return null;
    const challenge = first(cfg.challengePath);
    if (challenge === undefined || challenge === null) return null;
    return { status: 200, contentType: 'application/json', body: JSON.stringify({ challenge }) };
  }
  return null;
}
