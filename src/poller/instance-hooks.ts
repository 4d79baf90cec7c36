import type { Config } from '../config/index.js';
import type { InstanceHooks, InstanceUnitOfWork } from '../instances/hooks.js';
import { planPollObjects } from './plan.js';
import type { SnapshotStore } from './snapshot-store.js';
import type { PollStateStore } from './store.js';

/**
 * The poller's part of an instance's life: a create or PATCH (re-)plans its poll objects in the same
 * unit of work; re-enabling polls what fell due while paused at once; a delete takes its snapshots
 * (they have no foreign key, see migration 012).
 */
export function pollerInstanceHooks(
  config: Pick<Config, 'poller'>,
): InstanceHooks<InstanceUnitOfWork & { pollState: PollStateStore; snapshots: SnapshotStore }> {
  return {
    async onInstanceWrite(uow, { id, createdAt, now, change }) {
      const jitterMs = config.poller.jitterSeconds * 1000;
      if (change.kind === 'created') await planPollObjects(uow.pollState, id, change.settings, { now, createdAt, intervalChanged: true, jitterMs });
      else if (change.kind === 'updated') {
        const { settings, previous } = change;
        const intervalChanged =
          previous.refreshIntervalMs !== settings.refreshIntervalMs || previous.cron !== settings.cron || previous.timeZone !== settings.timeZone;
        await planPollObjects(uow.pollState, id, settings, { now, createdAt, intervalChanged, jitterMs });
      } else if (change.kind === 'enabled') await uow.pollState.pollOverdueNow(id, now);
    },
    async onInstanceDelete(uow, instanceId) {
      await uow.snapshots.deleteOfInstance(instanceId);
    },
  };
}
