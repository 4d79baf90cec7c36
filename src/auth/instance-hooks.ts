import type { InstanceHooks } from '../instances/hooks.js';
import { giveAgainProblem, secretsToGiveAgain } from '../instances/validation.js';
import { authOf } from '../connectors/auth-alternatives.js';
import { destinationNames, movedDestinations, secretDestinations } from './destinations.js';

/**
 * Auth's part of validating an instance: whether its auth brings the API base with the token, and
 * the checks of a PATCH: one that moves where provider-side secrets are sent (another API base,
 * token URL or request template host) must give them again; an OAuth grant moved along is renewed
 * through the authorizer (grants.ts).
 */
export function authInstanceHooks(): InstanceHooks {
  return {
    givesBaseUrl(connector, configuration) {
      const auth = authOf(connector, configuration);
      return auth?.type === 'oauth2' && Boolean(auth.baseUrlFrom || auth.baseUrlLookup);
    },
    checkChange(change) {
      const { connector, before, after, problems } = change;
      const moved = movedDestinations(secretDestinations(connector, before), secretDestinations(connector, after));
      const missing = new Map<string, string>();
      const check = (where: string, isAffected: (key: string) => boolean) => {
        if (!where) return;
        for (const key of secretsToGiveAgain(change, isAffected)) if (!missing.has(key)) missing.set(key, where);
      };
      check(destinationNames(moved.filter((d) => d.carries === 'all')), (key) => !key.startsWith('event.notification.'));
      check(destinationNames(moved.filter((d) => d.carries === 'oauth')), (key) => key.startsWith('oauth.'));
      for (const [key, where] of missing) problems.push(giveAgainProblem(key, where));
    },
  };
}
