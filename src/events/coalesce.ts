import type { Knex } from 'knex';
import { inTransaction } from '../db/index.js';
import { claimDue } from '../db/lease.js';
import type { NotificationPayload } from './record.js';

/**
 * Coalescing under backlog: the dispatcher's claimed polling notifications of one instance and
 * object type that were never attempted are merged into the oldest of them (the carrier), up to the
 * instance's events per notification, so a callback that is behind gets fewer, fuller requests.
 *
 * The merge is written before anything is sent, in one transaction that moves the events of the
 * absorbed notifications to the carrier, rewrites the carrier's payload and deletes the absorbed
 * rows — guarded by this node's leases, no attempt and no attempt row, or it rolls back and the
 * claimed rows go out as they were. So a crash before or after it loses nothing, and a notification
 * once sent keeps its `webhook-id` and its events on every retry: a receiver never sees an event
 * again under another id. Webhook notifications are not merged (each carries its own receipt and
 * request headers); schedule and connect notifications are single events by design.
 */
export interface CoalesceOptions {
  now: number;
  owner: string;
  leaseMs: number;
  /** The claim came back full: a backlog, so more of each group's pending rows are claimed to fill it. */
  topUp: boolean;
  /** The instance's events per notification (its `maxBatchSize` or the gateway's polling setting). */
  maxOf: (instanceId: number) => number;
}

/** The columns of a claimed notification that coalescing reads (the event store's NotificationRow). */
export interface CoalescedRow {
  id: string;
  instance_id: number | null;
  object_type: string | null;
  source: string;
  payload: string;
  attempt_count: number;
  event_count: number;
  requests_done: number;
  created_at: number;
}

const mergeable = (r: CoalescedRow): boolean =>
  r.instance_id !== null && r.source === 'polling' && r.object_type !== null && r.attempt_count === 0 && !r.requests_done;

const firstSequence = (r: CoalescedRow): number => (JSON.parse(r.payload) as NotificationPayload).events[0]?.sequence ?? 0;

export async function coalesceClaimed<NotificationRow extends CoalescedRow>(db: Knex, rows: NotificationRow[], o: CoalesceOptions): Promise<NotificationRow[]> {
  const groups = new Map<string, NotificationRow[]>();
  for (const row of rows) {
    if (!mergeable(row)) continue;
    const key = `${row.instance_id}\u0000${row.object_type}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  // Only groups where two could share a notification (full ones, the usual case, cost nothing more).
  const worth = [...groups.values()].filter((group) => {
    const max = o.maxOf(group[0].instance_id as number);
    const counts = group.map((r) => Number(r.event_count)).sort((a, b) => a - b);
    return (counts.length >= 2 && counts[0] + counts[1] <= max) || (o.topUp && counts[0] < max);
  });
  if (worth.length === 0) return rows;
  // A notification held after a 410 keeps its attempt count at 0 but has an attempt: not merged either.
  const attempted = await attemptedOf(
    db,
    worth.flat().map((r) => r.id),
  );
  const extra: NotificationRow[] = [];
  const packs: NotificationRow[][] = [];
  for (const all of worth) {
    const group = all.filter((r) => !attempted.has(r.id));
    if (group.length === 0) continue;
    const max = o.maxOf(group[0].instance_id as number);
    const room = max - group.reduce((n, r) => n + Number(r.event_count), 0);
    if (o.topUp && room > 0) {
      const more = await claimDue<NotificationRow>(db, {
        table: 'notifications',
        dueColumn: 'next_attempt_at',
        now: o.now,
        owner: o.owner,
        leaseMs: o.leaseMs,
        limit: room,
        where: (q) => q.where({ status: 'pending', instance_id: group[0].instance_id, object_type: group[0].object_type, source: 'polling', attempt_count: 0 }),
        orderBy: [{ column: 'created_at' }, { column: 'id' }],
      });
      extra.push(...more);
      const done = await attemptedOf(
        db,
        more.map((r) => r.id),
      );
      group.push(...more.filter((r) => mergeable(r) && !done.has(r.id)));
    }
    packs.push(...pack(group, max));
  }
  const all = [...rows, ...extra];
  const merges = packs.filter((p) => p.length > 1);
  if (merges.length === 0) return all;
  let merged: Map<string, NotificationRow>;
  try {
    merged = await inTransaction(db, (trx) => writeMerges(trx, merges, o));
  } catch {
    // A guard failed (a row retaken or attempted meanwhile) or the write did: nothing merged, each sent as claimed.
    return all.sort(byAge);
  }
  const absorbed = new Set(merges.flatMap((p) => p.slice(1).map((r) => r.id)));
  return all
    .filter((r) => !absorbed.has(r.id))
    .map((r) => merged.get(r.id) ?? r)
    .sort(byAge);
}

async function attemptedOf(db: Knex, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  return new Set((await db('attempts').distinct('notification_id').whereIn('notification_id', ids).pluck('notification_id')) as string[]);
}

const byAge = (a: CoalescedRow, b: CoalescedRow) => a.created_at - b.created_at;

/** Consecutive runs (in event order) of at most `max` events. */
function pack<NotificationRow extends CoalescedRow>(group: NotificationRow[], max: number): NotificationRow[][] {
  const ordered = group.map((r) => ({ r, seq: firstSequence(r) })).sort((a, b) => a.seq - b.seq);
  const packs: NotificationRow[][] = [];
  let current: NotificationRow[] = [];
  let size = 0;
  for (const { r } of ordered) {
    const n = Number(r.event_count);
    if (current.length > 0 && size + n > max) {
      packs.push(current);
      current = [];
      size = 0;
    }
    current.push(r);
    size += n;
  }
  if (current.length > 0) packs.push(current);
  return packs;
}

async function writeMerges<NotificationRow extends CoalescedRow>(
  trx: Knex,
  merges: NotificationRow[][],
  o: CoalesceOptions,
): Promise<Map<string, NotificationRow>> {
  const carriers = new Map<string, NotificationRow>();
  for (const [carrier, ...rest] of merges) {
    const ids = rest.map((r) => r.id);
    const attempted = (await trx('attempts')
      .whereIn('notification_id', [carrier.id, ...ids])
      .count({ n: '*' })
      .first()) as { n: number | string };
    if (Number(attempted.n) > 0) throw new Error('a merged notification was attempted');
    const payloads = [carrier, ...rest].map((r) => JSON.parse(r.payload) as NotificationPayload);
    const payload: NotificationPayload = { ...payloads[0], events: payloads.flatMap((p) => p.events).sort((a, b) => a.sequence - b.sequence) };
    const eventCount = payload.events.length;
    await trx('events').whereIn('notification_id', ids).update({ notification_id: carrier.id });
    const deleted = await trx('notifications').whereIn('id', ids).where({ lease_owner: o.owner, status: 'pending', attempt_count: 0 }).delete();
    if (deleted !== ids.length) throw new Error('an absorbed notification is no longer this node’s');
    const text = JSON.stringify(payload);
    const updated = await trx('notifications')
      .where({ id: carrier.id, lease_owner: o.owner, attempt_count: 0 })
      .update({ payload: text, event_count: eventCount, updated_at: o.now });
    if (updated !== 1) throw new Error('the carrier is no longer this node’s');
    carriers.set(carrier.id, { ...carrier, payload: text, event_count: eventCount });
  }
  return carriers;
}
