import type { Logger } from '../log.js';
import type { StoresOf } from '../feature.js';

/**
 * Thin notifications (docs/connectors.md "Thin notifications that poll"): a connector whose
 * webhook only says *that* something changed (`pollOnNotification`) has the objects it names
 * polled now instead of mapping the body. The poll is an ordinary one — a delta token's incremental
 * sync, or a listing since the watermark — so the snapshot decides what is new, and a notification
 * repeated or replayed costs a poll, never a duplicate event. The objects become due at once; the
 * poller's next tick (on any node) claims them.
 */
export async function pollOnNotification(
  ctx: { stores: StoresOf<'pollState'>; log: Logger },
  instanceId: number,
  objectTypes: string[],
  now: number,
): Promise<void> {
  const due = await ctx.stores.pollState.pollObjectsNow(instanceId, objectTypes, now);
  ctx.log.debug({ instanceId, objectTypes, due }, 'thin notification: objects polled now');
}
