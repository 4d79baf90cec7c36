import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { OAuth2Server } from 'oauth2-mock-server';
import { createLogger } from '../../src/log.js';
import type { Logger } from '../../src/log.js';
import { EmulatedProvider, type CannedResponse } from '../../sandbox/provider-server.js';

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

/**
 * A scripted OAuth 2.0 token endpoint (POST /oauth/token on an emulated provider): each request
 * takes the next entry of `script` — `'hold'` answers only after `release()` (a provider slower
 * than the gateway's timeout), a canned answer is sent as is — and otherwise issues a new token
 * pair `at-<n>`/`rt-<n>` (expiring in 120 s), kept in `issued`. `calls()` are the form bodies sent.
 */
export interface TokenEndpoint {
  server: EmulatedProvider;
  url: string;
  script: Array<'hold' | CannedResponse>;
  issued: Set<string>;
  calls(): Array<Record<string, string>>;
  release(): void;
  close(): Promise<void>;
}

export async function startTokenEndpoint(): Promise<TokenEndpoint> {
  const server = await EmulatedProvider.start();
  const held: Array<() => void> = [];
  let serial = 0;
  const endpoint: TokenEndpoint = {
    server,
    url: server.url,
    script: [],
    issued: new Set(),
    calls: () => server.requests.filter((r) => r.path === '/oauth/token').map((r) => Object.fromEntries(new URLSearchParams(r.body))),
    release: () => {
      for (const answer of held.splice(0)) answer();
    },
    close: async () => {
      endpoint.release();
      await server.close();
    },
  };
  server.route('POST', '/oauth/token', async () => {
    const next = endpoint.script.shift();
    if (next === 'hold') await new Promise<void>((r) => held.push(r));
    if (next !== undefined && next !== 'hold') return next;
    serial++;
    endpoint.issued.add(`at-${serial}`);
    return { status: 200, body: { access_token: `at-${serial}`, token_type: 'bearer', expires_in: 120, refresh_token: `rt-${serial}` } };
  });
  return endpoint;
}
