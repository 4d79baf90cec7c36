import type { ConnectorDefinition } from '../connectors/schema.js';

/** Where the browser goes to authorize, and what the session keeps until the provider sends it back. */
export type AuthorizationStart =
  | {
      kind: 'redirect';
      url: string /** OAuth 2.0: the PKCE verifier. */;
      codeVerifier?: string /** OAuth 1.0a: the request token's secret. */;
      requestSecret?: string;
    }
  /** OAuth 1.0a: the provider answered the request-token call with an HTTP error. */
  | { kind: 'refused'; status: number };

/**
 * What the connect page needs of the OAuth flows: it declares this, auth/ implements it and main.ts
 * passes it in, so connect/ imports nothing of auth/ (docs/layers.md).
 */
export interface ConnectAuthorization {
  /** OAuth 2.0: the provider's authorize URL for `state`, with a fresh PKCE challenge. */
  startOAuth2(connector: ConnectorDefinition, configuration: Record<string, unknown>, state: string): Promise<AuthorizationStart>;
  /**
   * OAuth 1.0a: obtains a request token (the provider calls back to `callbackUrl`) and gives the
   * authorize URL with it; throws when the call fails before an answer.
   */
  startOAuth1(connector: ConnectorDefinition, configuration: Record<string, unknown>, callbackUrl: string): Promise<AuthorizationStart>;
  /** The OAuth 2.0 authorize page of these settings, when it renders to a real address (the page's CSP lists it). */
  authorizePage(connector: ConnectorDefinition, configuration: Record<string, unknown>): string | undefined;
}

/** What the connect page needs of other features, filled by main.ts (connect/ imports none of them). */
export interface ConnectNeeds {
  authorization: ConnectAuthorization;
  /** Makes every object of a reconnected instance due now (the poller's schedule). */
  pollAllNow(instanceId: number, now: number): Promise<void>;
}
