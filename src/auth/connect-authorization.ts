import type { ConnectorDefinition } from '../connectors/schema.js';
import { authOf } from '../connectors/auth-alternatives.js';
import { authorizeUrl, codeChallengeOf, newCodeVerifier } from './oauth2.js';
import { parseTokenAnswer, requestTokenRequest } from './oauth1.js';
import { oauth1Consumer, oauth2Client, oauth2Endpoints, oauthUrl } from './settings.js';
import type { ProviderAuth } from './provider-auth.js';

/** How an authorization starts, as the connect page asks for it (connect/authorization.ts declares the shape). */
export interface AuthorizationStarter {
  startOAuth2(
    connector: ConnectorDefinition,
    configuration: Record<string, unknown>,
    state: string,
  ): Promise<{ kind: 'redirect'; url: string; codeVerifier: string }>;
  startOAuth1(
    connector: ConnectorDefinition,
    configuration: Record<string, unknown>,
    callbackUrl: string,
  ): Promise<{ kind: 'redirect'; url: string; requestSecret: string } | { kind: 'refused'; status: number }>;
  authorizePage(connector: ConnectorDefinition, configuration: Record<string, unknown>): string | undefined;
}

export function authorizationStarter(providerAuth: ProviderAuth): AuthorizationStarter {
  return {
    async startOAuth2(connector, configuration, state) {
      const auth = authOf(connector, configuration);
      if (auth?.type !== 'oauth2') throw new Error('the settings choose no OAuth 2.0 authorization-code alternative');
      const codeVerifier = newCodeVerifier();
      const url = authorizeUrl(
        {
          ...oauth2Endpoints(auth, configuration),
          authorizationUrl: oauthUrl(auth.authorizationUrl, configuration),
          authorizationParams: auth.authorizationParams,
        },
        oauth2Client(auth, configuration),
        state,
        await codeChallengeOf(codeVerifier),
      );
      return { kind: 'redirect', url, codeVerifier };
    },

    async startOAuth1(connector, configuration, callbackUrl) {
      const auth = authOf(connector, configuration);
      if (auth?.type !== 'oauth1') throw new Error('the settings choose no OAuth 1.0a alternative');
      const request = requestTokenRequest(oauthUrl(auth.requestTokenUrl, configuration, connector.baseUrl), oauth1Consumer(configuration), callbackUrl);
      const answer = await providerAuth.tokenEndpoint({ connector, configuration }, 'unsent')(request);
      if (answer.status >= 400) return { kind: 'refused', status: answer.status };
      const pair = parseTokenAnswer(answer.body);
      const url = new URL(oauthUrl(auth.authorizeUrl, configuration, connector.baseUrl));
      url.searchParams.set('oauth_token', pair.token);
      return { kind: 'redirect', url: url.toString(), requestSecret: pair.secret };
    },

    authorizePage(connector, configuration) {
      const auth = authOf(connector, configuration);
      if (auth?.type !== 'oauth2') return undefined;
      try {
        const url = new URL(oauthUrl(auth.authorizationUrl, configuration));
        // A template still waiting for a typed value renders an address that is not the provider's.
        return url.hostname.startsWith('.') || url.hostname.includes('..') ? undefined : url.toString();
      } catch {
        return undefined;
      }
    },
  };
}
