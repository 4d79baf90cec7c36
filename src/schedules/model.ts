import { ValidationError } from '../errors.js';
import { isoOrNull } from '../clock.js';

/**
 * Scheduled events: the request body's rules and the row ↔ answer mapping. One-time schedules fire
 * at `schedule_at`; recurring ones every `frequency` `time_unit`s from it. After firing, a one-time
 * schedule stays visible with status "fired" (it no longer counts against the limit).
 */
export type TimeUnit = 'minutes' | 'hours' | 'days';
export const UNIT_MS: Record<TimeUnit, number> = { minutes: 60_000, hours: 3_600_000, days: 86_400_000 };

export interface ScheduleRow {
  id: number;
  instance_id: number;
  name: string;
  data: string;
  schedule_at: number;
  repeat_unit: TimeUnit | null;
  repeat_frequency: number | null;
  next_fire_at: number | null;
  fire_count: number;
  last_fired_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface ScheduleInput {
  name?: string;
  data?: unknown;
  scheduleAt?: number;
  repeat?: { unit: TimeUnit; frequency: number } | null;
}

type Problem = { field: string; message: string };

/** Reads a POST (all required) or PUT (any subset) body; every problem named in one 400. */
export function readScheduleBody(
  body: Record<string, unknown>,
  o: { partial: boolean; now: number; minLeadSeconds: number; maxDataBytes: number },
): ScheduleInput {
  const problems: Problem[] = [];
  const out: ScheduleInput = {};
  if (!o.partial || body.name !== undefined) {
    if (typeof body.name !== 'string' || !/^[A-Za-z0-9_.:-]{1,128}$/.test(body.name))
      problems.push({ field: 'name', message: 'must be 1 to 128 letters, digits or _ . : -' });
    else out.name = body.name;
  }
  if (!o.partial || body.data !== undefined) {
    if (body.data === undefined) problems.push({ field: 'data', message: 'is required (any JSON value)' });
    else if (Buffer.byteLength(JSON.stringify(body.data)) > o.maxDataBytes)
      problems.push({ field: 'data', message: `must be at most ${o.maxDataBytes} bytes of JSON` });
    else out.data = body.data;
  }
  if (!o.partial || body.schedule_at !== undefined) {
    const at = parseScheduleAt(body.schedule_at);
    if (Number.isNaN(at))
      problems.push({ field: 'schedule_at', message: 'must be an ISO 8601 date-time, e.g. 2026-11-24T12:00:00Z (UTC when it has no offset)' });
    else if (at < o.now + o.minLeadSeconds * 1000)
      problems.push({ field: 'schedule_at', message: `must be at least ${o.minLeadSeconds} seconds in the future` });
    else out.scheduleAt = at;
  }
  if (body.repeat !== undefined) {
    const r = body.repeat as { time_unit?: unknown; frequency?: unknown } | null;
    if (r === null) out.repeat = null;
    else if (
      typeof r !== 'object' ||
      !['minutes', 'hours', 'days'].includes(String(r.time_unit)) ||
      !Number.isInteger(r.frequency) ||
      (r.frequency as number) < 1
    ) {
      problems.push({ field: 'repeat', message: 'must be {"time_unit": "minutes"|"hours"|"days", "frequency": a positive integer}' });
    } else if (UNIT_MS[r.time_unit as TimeUnit] * (r.frequency as number) > MAX_PERIOD_MS) {
      problems.push({ field: 'repeat.frequency', message: 'the period must be at most 366 days' });
    } else out.repeat = { unit: r.time_unit as TimeUnit, frequency: r.frequency as number };
  }
  if (problems.length) throw new ValidationError(`the schedule is not valid: ${problems[0].field} ${problems[0].message}`, problems);
  return out;
}

const ISO_DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:?\d\d)?$/i;

/** Epoch ms of an ISO 8601 date-time, or NaN. No offset means UTC (not the server's zone). */
export function parseScheduleAt(value: unknown): number {
  if (typeof value !== 'string' || !ISO_DATE_TIME.test(value)) return NaN;
  const [y, m, d] = value.slice(0, 10).split('-').map(Number);
  if (new Date(Date.UTC(y, m - 1, d)).getUTCDate() !== d) return NaN; // e.g. February 30th
  return Date.parse(/(Z|[+-]\d\d:?\d\d)$/i.test(value) ? value : `${value}Z`);
}

/** The first firing time after `now` of a recurring schedule (missed runs are skipped, not burst). */
export function nextRecurrence(row: Pick<ScheduleRow, 'schedule_at' | 'repeat_unit' | 'repeat_frequency'>, now: number): number {
  const period = UNIT_MS[row.repeat_unit!] * row.repeat_frequency!;
  if (now < row.schedule_at) return row.schedule_at;
  const next = row.schedule_at + (Math.floor((now - row.schedule_at) / period) + 1) * period;
  // Input bounds make this unreachable; a time that is not one must never be stored.
  if (!Number.isSafeInteger(next)) throw new Error(`schedule period ${period} ms gives no valid next time`);
  return next;
}

/** The longest period of a recurring schedule (a longer one is a one-time schedule in effect). */
const MAX_PERIOD_MS = 366 * 24 * 60 * 60 * 1000;

const iso = isoOrNull;

export function presentSchedule(row: ScheduleRow) {
  return {
    name: row.name,
    data: JSON.parse(row.data),
    schedule_at: iso(row.schedule_at),
    repeat: row.repeat_unit ? { time_unit: row.repeat_unit, frequency: row.repeat_frequency } : null,
    status: row.next_fire_at === null ? 'fired' : 'scheduled',
    nextFireDate: iso(row.next_fire_at),
    fireCount: row.fire_count,
    lastFiredDate: iso(row.last_fired_at),
    createdDate: iso(row.created_at),
    updatedDate: iso(row.updated_at),
  };
}
