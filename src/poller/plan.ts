import cronParser from 'cron-parser';
import type { InstanceSettings } from '../instances/settings.js';
import type { PollStateStore } from './store.js';

/**
 * When objects poll. An object polls every interval from its last poll's start, or on its cron
 * schedule. With `poller.jitterSeconds` > 0 each object also has a phase of its own within a window
 * of that many seconds (at most its interval): its polls fall on that phase, so objects created
 * together — or overdue together after an outage — spread over the window instead of all polling
 * in the same second.
 */
export interface PollSpread {
  windowMs: number;
  /** 0 ≤ phase < 1: where in the window this object polls. */
  phase: number;
}

/**
 * A fixed phase per (instance, object type) from the golden-ratio sequence: consecutive instance
 * ids land far apart, so any number of them fills the window evenly.
 */
export function pollPhase(instanceId: number, objectType: string): number {
  let hash = 0;
  for (const ch of objectType) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return (instanceId * 0.6180339887498949 + hash / 2 ** 32) % 1;
}

export function nextPollTime(from: number, settings: Pick<InstanceSettings, 'cron' | 'timeZone'>, intervalMs: number, spread?: PollSpread): number {
  if (settings.cron) {
    return cronParser
      .parseExpression(settings.cron, { currentDate: new Date(from), tz: settings.timeZone })
      .next()
      .getTime();
  }
  const window = Math.round(Math.min(spread?.windowMs ?? 0, intervalMs));
  if (window <= 0) return from + intervalMs;
  // The object's phase slot in (from + interval − window, from + interval]: a poll that started on
  // its slot (or late by less than the window) keeps its interval exactly.
  const earliest = from + intervalMs - window;
  const ahead = (((Math.floor(spread!.phase * window) - earliest) % window) + window) % window;
  return earliest + (ahead === 0 ? window : ahead);
}

/** The interval of one object type: its own `refresh_interval`, else the instance's. */
export function objectIntervalMs(settings: InstanceSettings, objectType: string): number {
  return settings.objectIntervalsMs[objectType] ?? settings.refreshIntervalMs ?? 60 * 60_000;
}

/**
 * Keeps an instance's rows in `poll_objects` in step with its settings: one row per object type
 * with its interval and next poll time. Called in the same transaction as the instance write, so a
 * new interval takes effect at once (on every node: they all read these rows): `pollState` is a store
 * in that transaction.
 */
export async function planPollObjects(
  pollState: PollStateStore,
  instanceId: number,
  settings: InstanceSettings,
  o: { now: number; createdAt: number; intervalChanged: boolean; jitterMs: number },
): Promise<void> {
  const existing = await pollState.planned(instanceId);
  const polls = settings.refreshIntervalMs !== null || settings.cron !== null;
  const wanted = polls ? settings.pollerConfiguration : {};

  const gone = existing.filter((row) => !(row.object_type in wanted)).map((row) => row.id);
  await pollState.delete(gone);

  for (const [objectType, config] of Object.entries(wanted)) {
    const intervalMs = objectIntervalMs(settings, objectType);
    const spread = { windowMs: o.jitterMs, phase: pollPhase(instanceId, objectType) };
    const row = existing.find((r) => r.object_type === objectType);
    if (!row) {
      await pollState.insert({
        instance_id: instanceId,
        object_type: objectType,
        config: JSON.stringify(config),
        interval_ms: intervalMs,
        next_poll_at: nextPollTime(o.now, settings, intervalMs, spread),
        // The first poll starts from the instance's creation: older records raise nothing.
        watermark: o.createdAt,
      });
      continue;
    }
    const patch: Record<string, unknown> = { config: JSON.stringify(config), interval_ms: intervalMs };
    if (o.intervalChanged || Number(row.interval_ms) !== intervalMs)
      patch.next_poll_at = Math.max(o.now, nextPollTime(row.last_poll_at ?? o.now, settings, intervalMs, spread));
    await pollState.update(row.id, patch);
  }
}
