import type { InstanceHooks, InstanceUnitOfWork } from './hooks.js';
import type { EventStore } from '../events/store.js';

/** A deleted instance's events go with it (they have no foreign key, see migration 012; notifications do). */
export function eventInstanceHooks(): InstanceHooks<InstanceUnitOfWork & { events: EventStore }> {
  return {
    async onInstanceDelete(uow, instanceId) {
      await uow.events.deleteOfInstance(instanceId);
    },
  };
}
