import type { InstanceHooks } from '../instances/hooks.js';
import { newSigningSecret } from './signing.js';

/** Delivery's part of an instance's life: a new instance gets the secret its callbacks are signed with. */
export function deliveryInstanceHooks(): InstanceHooks {
  return {
    async onInstanceWrite(uow, { id, now, change }) {
      if (change.kind === 'created') await uow.instances.setSigningSecrets(id, [{ secret: newSigningSecret(), createdAt: now, expiresAt: null }]);
    },
  };
}
