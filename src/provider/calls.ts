import type { Config } from '../config/index.js';
import type { ConnectorDefinition } from '../connectors/schema.js';
import type { TemplateScope } from '../templates/request-template.js';
import type { Outbound } from '../network/outbound.js';
import { sendProviderRequest, type AttemptHooks, type ProviderRequest, type ProviderResult, type RetryPolicy } from './http-client.js';

/**
 * The one path by which a built provider request is sent for an instance — poll pages, request
 * templates, webhook (de)registration and token endpoints alike. Per-attempt hooks are composed
 * here: the hook factories given at construction (rate budgets) run first, the connector's auth last,
 * so credentials and signatures cover the exact request of each attempt (each page, each retry).
 */
export interface ProviderTarget {
  connector: ConnectorDefinition;
  /** The instance's configuration, secrets decrypted. */
  configuration: Record<string, unknown>;
  /** The instance, when there is one (token state is kept per instance). */
  instanceId?: number;
  /** The template scope the request was rendered with (auth values render in it too). */
  scope?: TemplateScope;
  /** `false` sends without the connector's auth (token endpoints authenticate themselves). */
  auth?: false;
}

export interface CallOptions {
  maxAttempts: number;
  retryDelayMs: number;
  timeoutMs: number;
  /** Which failures are retried (default `any`; token requests send fewer again, see RetryPolicy). */
  retry?: RetryPolicy;
}

export type HookFactory = (target: ProviderTarget) => AttemptHooks | undefined;

/** What the connector's auth contributes to a call: per-attempt hooks, and an API base of its own. */
export interface AuthProvider {
  hooksFor: HookFactory;
  /** The API base the provider gave with the token (OAuth 2.0 `baseUrlFrom`), if any. */
  baseUrlFrom?(target: ProviderTarget): Promise<string | undefined>;
  /** The instance's usable OAuth access token (refreshed when about to expire), if it has one. */
  accessToken?(target: ProviderTarget): Promise<string | undefined>;
  /** The instance's tokens as configuration keys, for a call that must outlive the instance. */
  handOver?(target: ProviderTarget): Promise<Record<string, string>>;
}

/** No auth of its own: the calls a connector's auth makes itself (token endpoints) go through one of these. */
export const WITHOUT_AUTH: AuthProvider = { hooksFor: () => undefined };

export class ProviderCalls {
  /** `hookFactories` run on every call, before auth (rate budgets). */
  constructor(
    private readonly config: Config,
    /** The gateway's sleep (a manual clock's in tests): also for waits a caller paces itself. */
    readonly sleep: (ms: number) => Promise<void>,
    private readonly auth: AuthProvider,
    private readonly outbound: Outbound,
    private readonly hookFactories: HookFactory[] = [],
  ) {}

  /**
   * The API base template of a target: the one its token answer named, else the connector's own
   * (the request builder lets an instance's `base.url` replace either).
   */
  async baseUrlOf(target: ProviderTarget): Promise<string | undefined> {
    return (await this.auth.baseUrlFrom?.(target)) ?? target.connector.baseUrl;
  }

  /** The instance's OAuth access token, for request templates with `isOAuth: true`. */
  async accessTokenOf(target: ProviderTarget): Promise<string | undefined> {
    return this.auth.accessToken?.(target);
  }

  /**
   * What a call made after the instance is gone needs of its auth (a deregistration retried after
   * DELETE): its OAuth tokens as `oauth.user.*` keys and its token-given API base as `base.url`.
   */
  async handOverOf(target: ProviderTarget): Promise<Record<string, string>> {
    return (await this.auth.handOver?.(target)) ?? {};
  }

  send(target: ProviderTarget, request: ProviderRequest, options: CallOptions): Promise<ProviderResult> {
    const hooks = [...this.hookFactories, ...(target.auth === false ? [] : [this.auth.hooksFor])]
      .map((make) => make(target))
      .filter((h): h is AttemptHooks => h !== undefined);
    return sendProviderRequest(request, {
      ...options,
      outbound: this.outbound,
      policy: this.config.network,
      sleep: this.sleep,
      maxRetryAfterMs: this.config.provider.maxRetryAfterSeconds * 1000,
      maxResponseBytes: this.config.provider.maxResponseBytes,
      hooks,
    });
  }
}
