import type { BaseUrlLookup } from '../connectors/schema.js';
import { compileJsonPath, firstMatch } from '../lib/json-path.js';
import type { ProviderRequest } from '../provider/http-client.js';
import { renderString } from '../templates/request-template.js';
import { oauthUrl, withOAuthOrigin } from './settings.js';

/**
 * An OAuth 2.0 `baseUrlLookup`: the API base found by a call made with a new access token, e.g.
 * Atlassian's cloudId from GET …/oauth/token/accessible-resources → api.atlassian.com/ex/jira/<id>.
 * Both URLs are the provider's OAuth gateway: `oauth.base.url` replaces their origin too.
 */
export async function lookUpBaseUrl(
  lookup: BaseUrlLookup,
  configuration: Record<string, unknown>,
  accessToken: string,
  send: (request: ProviderRequest) => Promise<string>,
): Promise<string> {
  const url = oauthUrl(lookup.url, configuration);
  const body = await send({ method: 'GET', url, headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } });
  let answer: unknown;
  try {
    answer = JSON.parse(body);
  } catch {
    throw new Error(`the answer of ${url} is not JSON`);
  }
  const items = answer !== null && typeof answer === 'object' ? compileJsonPath(lookup.itemsPath ?? '$[*]').all(answer) : [];
  const scope = { iparam: configuration, context: {} };
  const wanted =
    lookup.match && (lookup.match.when === undefined || isSet(configuration[lookup.match.when])) ? renderString(lookup.match.equals, scope) : undefined;
  const item = wanted === undefined ? items[0] : items.find((i) => String(firstMatch(i, lookup.match!.path) ?? '') === wanted);
  if (item === undefined) {
    const offered = items
      .map((i) => firstMatch(i, lookup.match?.path ?? lookup.valuePath))
      .filter((v) => v !== undefined)
      .join(', ');
    throw new Error(
      wanted === undefined
        ? `${url} lists nothing this token may access`
        : `none of the resources this token may access is ${wanted} (it may access: ${offered || 'none'})`,
    );
  }
  const value = firstMatch(item, lookup.valuePath);
  if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`the resource found at ${url} has no ${lookup.valuePath}`);
  return withOAuthOrigin(renderString(lookup.baseUrl, { iparam: configuration, context: { value: String(value) } }, { urlEncode: true }), configuration);
}

const isSet = (v: unknown): boolean => v !== undefined && v !== null && v !== '';
