import type { AttemptHooks } from '../provider/http-client.js';
import type { AuthProvider, ProviderTarget } from '../provider/calls.js';
import { withStaticAuth } from './static-auth.js';

/** The connector's auth as per-attempt hooks of the provider calls. */
export class ProviderAuth implements AuthProvider {
  hooksFor = (target: ProviderTarget): AttemptHooks | undefined => {
    const auth = target.connector.auth;
    if (!auth || auth.type === 'none') return undefined;
    const scope = target.scope ?? { iparam: target.configuration, context: {} };
    return { beforeSend: (request) => withStaticAuth(request, auth, scope) };
  };
}
