import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { EmulatedProvider, type RecordedRequest } from '../../sandbox/provider-server.js';

/**
 * A Desk.com-style OAuth 1.0a provider: request token, authorize redirect, access token, and an
 * API whose every request must carry a valid HMAC-SHA1 signature. Signatures are
 * checked with `oauth-sign` (the signing code of the `request` library), not with the gateway's
 * signing library, over the query, the form body and the OAuth parameters; a nonce is accepted once.
 */
const { hmacsign } = createRequire(import.meta.url)('oauth-sign') as {
  hmacsign(method: string, baseUri: string, params: Record<string, string | string[]>, consumerSecret: string, tokenSecret?: string): string;
};

export interface Verified {
  path: string;
  token: string | undefined;
  params: Record<string, string | string[]>;
}

export class DeskProvider {
  readonly verified: Verified[] = [];
  readonly rejected: string[] = [];
  readonly requestTokens = new Map<string, { secret: string; verifier?: string; callback: string }>();
  readonly accessTokens = new Map<string, string>();
  private readonly nonces = new Set<string>();

  private constructor(
    readonly api: EmulatedProvider,
    readonly consumer: { key: string; secret: string },
  ) {}

  get url(): string {
    return this.api.url;
  }

  static async start(consumer: { key: string; secret: string }): Promise<DeskProvider> {
    const api = await EmulatedProvider.start();
    const desk = new DeskProvider(api, consumer);
    api.unauthorized = { status: 401, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'oauth_problem=signature_invalid' };
    api.requireAuth = { type: 'check', accept: (req, url) => desk.check(req, url) };
    api.route('POST', '/oauth/request_token', (req) => {
      const token = `rt-${randomBytes(8).toString('hex')}`;
      const secret = `rts-${randomBytes(8).toString('hex')}`;
      desk.requestTokens.set(token, { secret, callback: String(desk.lastOAuth(req).oauth_callback) });
      return {
        status: 200,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `oauth_token=${token}&oauth_token_secret=${secret}&oauth_callback_confirmed=true`,
      };
    });
    api.route('POST', '/oauth/access_token', (req) => {
      const token = `at-${randomBytes(8).toString('hex')}`;
      const secret = `ats-${randomBytes(8).toString('hex')}`;
      desk.requestTokens.delete(String(desk.lastOAuth(req).oauth_token));
      desk.accessTokens.set(token, secret);
      return { status: 200, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `oauth_token=${token}&oauth_token_secret=${secret}` };
    });
    return desk;
  }

  /** The user's "Allow" on the authorize page: a redirect to the callback with the verifier. */
  authorize(requestToken: string): string {
    const pending = this.requestTokens.get(requestToken);
    if (!pending) throw new Error(`unknown request token ${requestToken}`);
    pending.verifier = `v-${randomBytes(6).toString('hex')}`;
    const back = new URL(pending.callback);
    back.searchParams.set('oauth_token', requestToken);
    back.searchParams.set('oauth_verifier', pending.verifier);
    return back.toString();
  }

  close(): Promise<void> {
    return this.api.close();
  }

  private lastOAuth(req: RecordedRequest): Record<string, string> {
    return { ...parseAuthorization(req.headers.authorization), ...Object.fromEntries(new URLSearchParams(isForm(req) ? req.body : '')) };
  }

  private check(req: RecordedRequest, url: URL): boolean {
    const oauth = parseAuthorization(req.headers.authorization);
    const reject = (why: string) => (this.rejected.push(`${req.method} ${url.pathname}: ${why}`), false);
    if (oauth.oauth_consumer_key !== this.consumer.key) return reject('unknown consumer');
    if (oauth.oauth_signature_method !== 'HMAC-SHA1') return reject('not HMAC-SHA1');
    if (!oauth.oauth_nonce || this.nonces.has(oauth.oauth_nonce)) return reject('nonce missing or used before');
    const params: Record<string, string | string[]> = {};
    const add = (k: string, v: string) => {
      const had = params[k];
      params[k] = had === undefined ? v : [...(Array.isArray(had) ? had : [had]), v];
    };
    for (const [k, v] of url.searchParams) add(k, v);
    if (isForm(req)) for (const [k, v] of new URLSearchParams(req.body)) add(k, v);
    for (const [k, v] of Object.entries(oauth)) if (k !== 'oauth_signature' && k !== 'realm') add(k, v);

    let tokenSecret = '';
    if (url.pathname === '/oauth/request_token') {
      if (oauth.oauth_token) return reject('a request-token call carries no token');
    } else if (url.pathname === '/oauth/access_token') {
      const pending = this.requestTokens.get(oauth.oauth_token ?? '');
      const verifier = typeof params.oauth_verifier === 'string' ? params.oauth_verifier : undefined;
      if (!pending?.verifier || pending.verifier !== verifier) return reject('unknown request token or wrong verifier');
      tokenSecret = pending.secret;
    } else {
      const secret = this.accessTokens.get(oauth.oauth_token ?? '');
      if (secret === undefined) return reject('unknown access token');
      tokenSecret = secret;
    }
    const expected = hmacsign(req.method, `${url.protocol}//${url.host}${url.pathname}`, params, this.consumer.secret, tokenSecret);
    if (expected !== oauth.oauth_signature) return reject('signature_invalid');
    this.nonces.add(oauth.oauth_nonce);
    this.verified.push({ path: url.pathname, token: oauth.oauth_token, params });
    return true;
  }
}

const isForm = (req: RecordedRequest) => String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');

/** `OAuth k="v", …` → {k: v}, percent-decoded (RFC 5849 section 3.5.1). */
function parseAuthorization(header: string | string[] | undefined): Record<string, string> {
  if (typeof header !== 'string' || !header.startsWith('OAuth ')) return {};
  const out: Record<string, string> = {};
  for (const m of header.slice(6).matchAll(/([A-Za-z0-9_%.-]+)="([^"]*)"/g)) out[decodeURIComponent(m[1])] = decodeURIComponent(m[2]);
  return out;
}
