import type { Clock } from '../clock.js';
import type { BaseUrlLookup } from '../connectors/schema.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { firstMatch } from '../lib/json-path.js';
import { ProviderError, type AttemptHooks, type ProviderRequest } from '../provider/http-client.js';
import type { AuthProvider, ProviderCalls, ProviderTarget } from '../provider/calls.js';
import { withStaticAuth } from './static-auth.js';
import { OAuthRefusedError, clientCredentialsGrant, refreshGrant, type TokenAnswer, type TokenEndpointSend } from './oauth2.js';
import { signRequest } from './oauth1.js';
import { BASE_URL_KEY, OAUTH_KEYS } from '../connectors/settings-keys.js';
import { isOAuth, oauth1Consumer, oauth2Client, oauth2Endpoints } from './settings.js';
import { authOf } from '../connectors/auth-alternatives.js';
import { lookUpBaseUrl } from './base-url-lookup.js';
import type { AuthRecord, TokenSet, TokenStore } from './store.js';

/**
 * The connector's auth as per-attempt hooks of every provider call. Static credentials are added
 * from the configuration; OAuth 2.0 puts the instance's access token in each attempt — refreshed
 * 60 s before it expires, and once after a 401 (then the request is retried once) — and OAuth 1.0a
 * signs each attempt's exact request. A refresh is single-flight: one per instance in this process,
 * and across nodes through the token store's lease. A refused grant (`invalid_grant`) puts the
 * instance's auth in state `failed`: its provider calls stop with that error until a PATCH.
 */
const REFRESH_SKEW_MS = 60_000;
const REFRESH_LEASE_MS = 30_000;
const WAIT_FOR_OTHER_NODE_MS = 35_000;

export class ProviderAuth implements AuthProvider {
  private readonly refreshing = new Map<number, Promise<AuthRecord>>();

  /** `calls`: token endpoints are provider calls too (SSRF guard, size caps, rate budgets), sent without the connector's auth. */
  constructor(
    private readonly calls: Pick<ProviderCalls, 'send'>,
    readonly tokens: TokenStore,
    private readonly clock: Clock,
    private readonly nodeId: string,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    /** How long a token endpoint may take to answer (`provider.tokenTimeoutSeconds`). */
    private readonly tokenTimeoutMs = 10_000,
  ) {}

  hooksFor = (target: ProviderTarget): AttemptHooks | undefined => {
    const auth = authOf(target.connector, target.configuration);
    if (!auth || auth.type === 'none') return undefined;
    if (!isOAuth(auth)) {
      const scope = target.scope ?? { iparam: target.configuration, context: {} };
      return { beforeSend: (request) => withStaticAuth(request, auth, scope) };
    }
    if (auth.type === 'oauth1') {
      return { beforeSend: async (request) => signRequest(request, oauth1Consumer(target.configuration), await this.oauth1Token(target)) };
    }
    const sentWith = new Map<ProviderRequest, string>();
    let refreshedAfter401 = false;
    return {
      beforeSend: async (request) => {
        const token = (await this.current(target)).tokens.accessToken;
        const signed = { ...request, headers: { ...request.headers, authorization: `Bearer ${token}` } };
        sentWith.set(signed, token);
        return signed;
      },
      afterAnswer: async (answer, request) => {
        const token = sentWith.get(request);
        sentWith.delete(request);
        // A call without an instance (its tokens were handed over) has no token store to refresh.
        if (answer.status !== 401 || token === undefined || refreshedAfter401 || target.instanceId === undefined) return;
        refreshedAfter401 = true;
        await this.refresh(target, token);
        return 'retry';
      },
    };
  };

  async baseUrlFrom(target: ProviderTarget): Promise<string | undefined> {
    const auth = authOf(target.connector, target.configuration);
    if (auth?.type !== 'oauth2' || !(auth.baseUrlFrom || auth.baseUrlLookup) || target.instanceId === undefined) return undefined;
    return (await this.tokens.get(target.instanceId, this.clock.now()))?.tokens.baseUrl;
  }

  /**
   * The access token `<%= access_token %>` stands for: the instance's OAuth token, refreshed when
   * about to expire; none without OAuth auth, without tokens, or after a refused grant.
   */
  async accessToken(target: ProviderTarget): Promise<string | undefined> {
    const auth = authOf(target.connector, target.configuration);
    if (!isOAuth(auth)) return undefined;
    if (target.instanceId === undefined) return handedOver(target.configuration)?.tokens.accessToken;
    const record = await this.tokens.get(target.instanceId, this.clock.now());
    if (!record || record.state === 'failed') return undefined;
    const usable = auth.type === 'oauth1' ? record : await this.current(target);
    return usable.tokens.accessToken || undefined;
  }

  /** See `ProviderCalls.handOverOf`: the tokens of an instance that is about to go. */
  async handOver(target: ProviderTarget): Promise<Record<string, string>> {
    const auth = authOf(target.connector, target.configuration);
    if (!isOAuth(auth) || target.instanceId === undefined) return {};
    const record = await this.tokens.get(target.instanceId, this.clock.now());
    if (!record || record.state === 'failed') return {};
    const { accessToken, refreshToken, tokenSecret, baseUrl } = record.tokens;
    return {
      [OAUTH_KEYS.userToken]: accessToken,
      ...(refreshToken ? { [OAUTH_KEYS.userRefreshToken]: refreshToken } : {}),
      ...(tokenSecret ? { [OAUTH_KEYS.userTokenSecret]: tokenSecret } : {}),
      ...(baseUrl && !target.configuration[BASE_URL_KEY] ? { [BASE_URL_KEY]: baseUrl } : {}),
    };
  }

  /** A token set from a token endpoint's answer; a refresh token not rotated is kept. */
  tokenSetOf(
    target: Pick<ProviderTarget, 'connector' | 'configuration'>,
    answer: TokenAnswer,
    previous?: TokenSet,
  ): { tokens: TokenSet; expiresAt: number | null } {
    const auth = authOf(target.connector, target.configuration);
    const fromAnswer = auth?.type === 'oauth2' && auth.baseUrlFrom ? firstMatch(answer.raw, auth.baseUrlFrom) : undefined;
    const baseUrl = typeof fromAnswer === 'string' && fromAnswer !== '' ? fromAnswer : previous?.baseUrl;
    // A refresh answer without `scope` keeps the grant's (RFC 6749 §6: the same scope as before).
    const scope = typeof answer.raw.scope === 'string' ? answer.raw.scope : previous?.scope;
    const tokens: TokenSet = {
      accessToken: answer.accessToken,
      refreshToken: answer.refreshToken ?? previous?.refreshToken,
      ...(baseUrl ? { baseUrl } : {}),
      ...(scope !== undefined ? { scope } : {}),
    };
    return { tokens, expiresAt: answer.expiresInSeconds !== undefined ? this.clock.now() + answer.expiresInSeconds * 1000 : null };
  }

  /** A `baseUrlLookup`'s API base for a new access token: a provider call without the connector's auth. */
  baseUrlByLookup(target: Pick<ProviderTarget, 'connector' | 'configuration' | 'instanceId'>, lookup: BaseUrlLookup, accessToken: string): Promise<string> {
    return lookUpBaseUrl(lookup, target.configuration, accessToken, async (request) => {
      return (await this.calls.send({ ...target, auth: false }, request, { maxAttempts: 2, retryDelayMs: 1000, timeoutMs: 10_000 })).response;
    });
  }

  /**
   * How token endpoints are called: a provider call without the connector's auth; 4xx answers are
   * returned. `retry` says what may be sent twice: `unsent` for a request that spends a single-use
   * value (an authorization code, an OAuth 1.0a verifier) — only an attempt that never connected is
   * repeated; `unissued` for a refresh or a client-credentials grant — also one the token endpoint
   * answered without issuing anything (see RetryPolicy).
   */
  tokenEndpoint(target: ProviderTarget, retry: 'unsent' | 'unissued'): TokenEndpointSend {
    return async (request) => {
      try {
        const r = await this.calls.send({ ...target, auth: false }, request, { maxAttempts: 2, retryDelayMs: 1000, timeoutMs: this.tokenTimeoutMs, retry });
        return { status: r.status, headers: r.headers, body: r.response };
      } catch (err) {
        // The endpoint answered: the OAuth library reads the error from the body.
        if (err instanceof ProviderError && err.errorSource === 'APP' && err.status > 0)
          return { status: err.status, headers: err.headers, body: err.response };
        throw err;
      }
    };
  }

  private refused(message: string): ProviderError {
    return new ProviderError({ message, errorSource: 'PLATFORM', attempts: 0, code: 'AUTH_FAILED' });
  }

  private async record(target: ProviderTarget): Promise<AuthRecord> {
    if (target.instanceId === undefined) {
      const handed = handedOver(target.configuration);
      if (handed) return handed;
      throw this.refused('provider auth failed: this call has no instance, so no OAuth token');
    }
    const record = await this.tokens.get(target.instanceId, this.clock.now());
    if (!record) throw this.refused('provider auth failed: the instance has no OAuth tokens; PATCH it with providerData or oauth.user.* keys');
    if (record.state === 'failed')
      throw this.refused(`provider auth failed: ${record.lastError ?? 'the grant was refused'}; PATCH the instance with fresh credentials`);
    return record;
  }

  private async oauth1Token(target: ProviderTarget) {
    const { tokens } = await this.record(target);
    return { token: tokens.accessToken, secret: tokens.tokenSecret ?? '' };
  }

  /** The instance's OAuth 2.0 record with a token good for at least the skew. */
  private async current(target: ProviderTarget): Promise<AuthRecord> {
    const record = await this.record(target);
    if (!this.expiring(record)) return record;
    return this.refresh(target);
  }

  private expiring(record: AuthRecord): boolean {
    return record.expiresAt !== null && record.expiresAt - REFRESH_SKEW_MS <= this.clock.now();
  }

  /**
   * Refreshes unless it is no longer needed: `rejected` is the token a provider refused (then any
   * other token is newer), otherwise the expiry decides. One refresh per instance at a time here;
   * across nodes the token store's lease decides who refreshes and the others wait for its result.
   */
  refresh(target: ProviderTarget, rejected?: string): Promise<AuthRecord> {
    const id = target.instanceId!;
    let flight = this.refreshing.get(id);
    if (!flight) {
      flight = this.refreshOnce(target, rejected).finally(() => this.refreshing.delete(id));
      this.refreshing.set(id, flight);
    }
    return flight;
  }

  private async refreshOnce(target: ProviderTarget, rejected?: string): Promise<AuthRecord> {
    const id = target.instanceId!;
    const stillNeeded = (r: AuthRecord) => (rejected !== undefined ? r.tokens.accessToken === rejected : this.expiring(r));
    const waitUntil = Date.now() + WAIT_FOR_OTHER_NODE_MS;
    for (;;) {
      const record = await this.record(target);
      if (!stillNeeded(record)) return record;
      if (await this.tokens.takeRefreshLease(id, this.nodeId, this.clock.now(), REFRESH_LEASE_MS)) {
        // Another node may have finished a refresh between the read above and the lease: read again.
        const leased = await this.record(target);
        if (stillNeeded(leased)) return this.refreshHoldingLease(target, leased);
        await this.tokens.releaseRefreshLease(id, this.nodeId, leased.lastError, this.clock.now());
        return leased;
      }
      // Another node is refreshing this instance: wait for its result (wall-clock time, briefly).
      if (Date.now() > waitUntil) throw this.refused('provider auth failed: another node has been refreshing the token for too long');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async refreshHoldingLease(target: ProviderTarget, record: AuthRecord): Promise<AuthRecord> {
    const id = target.instanceId!;
    const auth = authOf(target.connector, target.configuration);
    const now = () => this.clock.now();
    try {
      if (auth?.type !== 'oauth2' && auth?.type !== 'oauth2-client-credentials')
        throw this.refused(`provider auth failed: ${auth?.type} tokens are not refreshed`);
      const endpoints = oauth2Endpoints(auth, target.configuration);
      const client = oauth2Client(auth, target.configuration);
      let answer: TokenAnswer;
      if (auth.type === 'oauth2-client-credentials') answer = await clientCredentialsGrant(endpoints, client, this.tokenEndpoint(target, 'unissued'));
      else if (!record.tokens.refreshToken) throw new OAuthRefusedError('invalid_grant', 'the access token expired and there is no refresh token', 0);
      else answer = await refreshGrant(endpoints, client, record.tokens.refreshToken, this.tokenEndpoint(target, 'unissued'));
      const { tokens, expiresAt } = this.tokenSetOf(target, answer, record.tokens);
      if (auth.type === 'oauth2' && auth.baseUrlLookup && !tokens.baseUrl)
        tokens.baseUrl = await this.baseUrlByLookup(target, auth.baseUrlLookup, tokens.accessToken);
      if (!(await this.tokens.saveRefreshed(id, this.nodeId, tokens, expiresAt, now())))
        throw this.refused('provider auth failed: the refresh lease was lost before the new token was saved');
      this.log.info({ instanceId: id, expiresAt }, 'provider token refreshed');
      return { ...record, state: 'ok', tokens, expiresAt, lastRefreshAt: now(), lastError: null };
    } catch (err) {
      if (err instanceof OAuthRefusedError && (err.error === 'invalid_grant' || err.error === 'invalid_client' || err.error === 'unauthorized_client')) {
        await this.tokens.markFailed(id, err.message, now());
        this.metrics.authFailures.inc({ element: target.connector.key });
        this.log.error(
          { instanceId: id, error: err.error },
          'provider auth failed: the grant was refused; provider calls of this instance stop until it is PATCHed',
        );
        throw this.refused(`provider auth failed: ${err.message}`);
      }
      const message = err instanceof Error ? err.message : String(err);
      // Waiting for the provider's rate budget is no refresh failure: the next call tries again.
      const budgetWait = err instanceof ProviderError && err.code === 'RATE_BUDGET';
      await this.tokens.releaseRefreshLease(id, this.nodeId, budgetWait ? record.lastError : `token refresh failed: ${message}`, now());
      if (budgetWait) throw err;
      this.log.warn({ instanceId: id, err: message }, 'provider token refresh failed; it will be tried again');
      throw err instanceof ProviderError ? err : this.refused(`token refresh failed: ${message}`);
    }
  }
}

/** The `auth` part of an instance's status (OAuth connectors only); never a token. */
export async function authStatus(
  auth: ProviderAuth,
  instanceId: number,
  connector: ProviderTarget['connector'],
  configuration: Record<string, unknown>,
  now: number,
) {
  const chosen = authOf(connector, configuration);
  if (!isOAuth(chosen)) return undefined;
  const r = await auth.tokens.get(instanceId, now);
  const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());
  return {
    type: chosen.type,
    state: r?.state ?? 'failed',
    expiresAt: iso(r?.expiresAt),
    lastRefreshAt: iso(r?.lastRefreshAt),
    lastError: r ? r.lastError : 'the instance has no OAuth tokens',
  };
}

/** Tokens a call without an instance carries in its configuration (`handOver`); used as they are, never refreshed. */
function handedOver(configuration: Record<string, unknown>): AuthRecord | undefined {
  const token = configuration[OAUTH_KEYS.userToken];
  if (typeof token !== 'string' || token === '') return undefined;
  const optional = (key: string) => (typeof configuration[key] === 'string' ? (configuration[key] as string) : undefined);
  const tokens: TokenSet = { accessToken: token, refreshToken: optional(OAUTH_KEYS.userRefreshToken), tokenSecret: optional(OAUTH_KEYS.userTokenSecret) };
  return { type: 'handed-over', state: 'ok', tokens, expiresAt: null, lastRefreshAt: null, lastError: null };
}
