import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { OAuth2Server } from 'oauth2-mock-server';
import { createLogger } from '../../src/log.js';
import type { Logger } from '../../src/log.js';

/**
 * An independent OAuth 2.0 server (the `oauth2-mock-server` package) with provider-like endpoint
 * paths, recording every token-endpoint call; `valid` holds the access tokens it issued that a
 * provider should still accept. `next` queues one-time changes of the next token answers.
 */
export interface TokenCall {
  grant: string;
  body: Record<string, string>;
  status: number;
  answer: Record<string, unknown>;
}

export interface OAuthProvider {
  url: string;
  server: OAuth2Server;
  calls: TokenCall[];
  valid: Set<string>;
  next: Array<(answer: { body: Record<string, unknown>; statusCode: number }) => void>;
  close(): Promise<void>;
}

/** One RSA signing key per test process: generating one takes a few hundred milliseconds. */
let generatedKey: Promise<Record<string, unknown>> | undefined;
function signingKey(): Promise<Record<string, unknown>> {
  generatedKey ??= (async () => {
    const keys = new OAuth2Server().issuer.keys;
    await keys.generate('RS256');
    return keys.toJSON(true)[0] as unknown as Record<string, unknown>;
  })();
  return generatedKey;
}

/** `endpoints`: the provider's own paths (GitHub's /login/oauth/access_token…); default /oauth/token and /oauth/authorize. */
export async function startOAuthServer(
  endpoints: { token: string; authorize: string } = { token: '/oauth/token', authorize: '/oauth/authorize' },
): Promise<OAuthProvider> {
  const server = new OAuth2Server(undefined, undefined, { endpoints });
  await server.issuer.keys.add(await signingKey());
  await server.start(0, '127.0.0.1');
  const url = `http://127.0.0.1:${server.address().port}`;
  // Its id tokens name the address it is called at (the gateway treats the token URL's origin as issuer).
  server.issuer.url = url;
  const o: OAuthProvider = {
    url,
    server,
    calls: [],
    valid: new Set(),
    next: [],
    close: () => server.stop(),
  };
  // Tokens signed within the same second would be identical: each gets its own id.
  server.service.on('beforeTokenSigning', (token: { payload: Record<string, unknown> }) => void (token.payload.jti = randomUUID()));
  server.service.on('beforeResponse', (answer: { body: Record<string, unknown>; statusCode: number }, req: { body: Record<string, string> }) => {
    o.next.shift()?.(answer);
    o.calls.push({ grant: req.body.grant_type, body: { ...req.body }, status: answer.statusCode, answer: { ...answer.body } });
    if (answer.statusCode === 200 && typeof answer.body.access_token === 'string') o.valid.add(answer.body.access_token);
  });
  return o;
}

export const bearerOf = (header: string | string[] | undefined): string => (typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : '');

/** A logger whose every line is kept, to check that no secret is ever written. */
export function capturedLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { log: createLogger({ level: 'debug', destination }), lines };
}
