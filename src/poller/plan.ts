import cronParser from 'cron-parser';
import type { Knex } from 'knex';
import type { InstanceSettings } from '../instances/settings.js';

/**
 * Keeps an instance's rows in `poll_objects` in step with its settings: one row per object type
 * with its interval and next poll time. Called in the same transaction as the instance write, so a
 * new interval takes effect at once.
 */
export function nextPollTime(from: number, settings: Pick<InstanceSettings, 'refreshIntervalMs' | 'cron' | 'timeZone'>, intervalMs: number): number {
  if (settings.cron) {
    return cronParser.parseExpression(settings.cron, { currentDate: new Date(from), tz: settings.timeZone }).next().getTime();
  }
  return from + intervalMs;
}

export async function planPollObjects(
  trx: Knex,
  instanceId: number,
  settings: InstanceSettings,
  o: { now: number; createdAt: number; intervalChanged: boolean },
): Promise<void> {
  const existing = (await trx('poll_objects').where({ instance_id: instanceId })) as Array<{ id: number; object_type: string; last_poll_at: number | null }>;
  const polls = settings.refreshIntervalMs !== null || settings.cron !== null;
  const wanted = polls ? settings.pollerConfiguration : {};
  const intervalMs = settings.refreshIntervalMs ?? 60 * 60_000;

  const gone = existing.filter((row) => !(row.object_type in wanted)).map((row) => row.id);
  if (gone.length) await trx('poll_objects').whereIn('id', gone).delete();

  for (const [objectType, config] of Object.entries(wanted)) {
    const row = existing.find((r) => r.object_type === objectType);
    if (!row) {
      await trx('poll_objects').insert({
        instance_id: instanceId,
        object_type: objectType,
        config: JSON.stringify(config),
        interval_ms: intervalMs,
        next_poll_at: nextPollTime(o.now, settings, intervalMs),
        // The first poll starts from the instance's creation: older records raise nothing.
        watermark: o.createdAt,
      });
      continue;
    }
    const patch: Record<string, unknown> = { config: JSON.stringify(config), interval_ms: intervalMs };
    if (o.intervalChanged) patch.next_poll_at = Math.max(o.now, nextPollTime(row.last_poll_at ?? o.now, settings, intervalMs));
    await trx('poll_objects').where({ id: row.id }).update(patch);
  }
}
