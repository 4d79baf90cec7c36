import type Koa from 'koa';
import type Router from '@koa/router';
import type { SchedulesContext } from './context.js';
import { readJsonObject } from '../api/body.js';
import { idParam, readPageRequest, sendPage } from '../api/pagination.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { Instance } from '../instances/store.js';
import { nextRecurrence, presentSchedule, readScheduleBody, type ScheduleInput, type ScheduleRow } from './model.js';
import type { ScheduleStore } from './store.js';

/**
 * POST/GET/PUT/DELETE /instances/:id/schedules[/:name] (worker.ts fires them).
 * A duplicate name is a 409; every other rule (lead time, data size, per-instance limits) a 400
 * naming it. Checks and writes of one instance's schedules run one at a time (`ScheduleStore.serialized`).
 */
export function scheduleRoutes(ctx: SchedulesContext) {
  const routes = new ScheduleRoutes(ctx);
  return (router: Router) => {
    router.post('/instances/:id/schedules', (koa) => routes.create(koa));
    router.get('/instances/:id/schedules', (koa) => routes.list(koa));
    router.get('/instances/:id/schedules/:name', (koa) => routes.get(koa));
    router.put('/instances/:id/schedules/:name', (koa) => routes.change(koa));
    router.delete('/instances/:id/schedules/:name', (koa) => routes.remove(koa));
  };
}

/** One method per route, and the rules they share as named steps. */
class ScheduleRoutes {
  private readonly schedules: ScheduleStore;
  private readonly limits: SchedulesContext['config']['schedules'];

  constructor(private readonly ctx: SchedulesContext) {
    this.schedules = ctx.stores.schedules;
    this.limits = ctx.config.schedules;
  }

  async create(koa: Koa.Context): Promise<void> {
    const instance = await this.instanceOf(koa);
    const input = await this.readBody(koa, false);
    const name = input.name!;
    const row = await this.schedules.serialized(instance.id, async (trx) => {
      if (await trx.find(instance.id, name)) {
        throw new ConflictError(`instance ${instance.id} already has a schedule "${name}"`);
      }
      await this.checkLimit(trx, instance.id, Boolean(input.repeat));
      const now = this.ctx.clock.now();
      await trx.insert({
        instance_id: instance.id,
        name,
        data: JSON.stringify(input.data),
        schedule_at: input.scheduleAt!,
        repeat_unit: input.repeat?.unit ?? null,
        repeat_frequency: input.repeat?.frequency ?? null,
        next_fire_at: input.scheduleAt!,
        created_at: now,
        updated_at: now,
      });
      return find(trx, instance.id, name);
    });
    koa.status = 201;
    koa.body = presentSchedule(row);
  }

  async list(koa: Koa.Context): Promise<void> {
    const instance = await this.instanceOf(koa);
    const page = readPageRequest(koa);
    sendPage(koa, await this.schedules.list(instance.id, page.before, page.pageSize + 1), page, (r) => r.id, presentSchedule);
  }

  async get(koa: Koa.Context): Promise<void> {
    const instance = await this.instanceOf(koa);
    koa.body = presentSchedule(await find(this.schedules, instance.id, koa.params.name));
  }

  async change(koa: Koa.Context): Promise<void> {
    const instance = await this.instanceOf(koa);
    const input = await this.readBody(koa, true);
    koa.body = presentSchedule(
      await this.schedules.serialized(instance.id, async (trx) => {
        const row = await find(trx, instance.id, koa.params.name);
        await this.applyChange(trx, row, input);
        return find(trx, instance.id, row.name);
      }),
    );
  }

  async remove(koa: Koa.Context): Promise<void> {
    const instance = await this.instanceOf(koa);
    const removed = await this.schedules.remove(instance.id, koa.params.name);
    if (removed === 0) throw new NotFoundError(`instance ${instance.id} has no schedule "${koa.params.name}"`);
    // Freshworks' $schedule.delete answers a status and a message.
    koa.body = { status: 200, message: `Schedule "${koa.params.name}" deleted` };
  }

  /** A PUT: any of schedule_at, repeat (null makes it one-time) and data; never the name. */
  private async applyChange(trx: ScheduleStore, row: ScheduleRow, input: ScheduleInput): Promise<void> {
    if (input.name !== undefined && input.name !== row.name) {
      throw new ValidationError('a schedule cannot be renamed; delete it and create another', [{ field: 'name' }]);
    }
    const now = this.ctx.clock.now();
    const current = row.repeat_unit ? { unit: row.repeat_unit, frequency: row.repeat_frequency! } : null;
    const repeat = input.repeat === undefined ? current : input.repeat;
    const timingChanged = input.scheduleAt !== undefined || input.repeat !== undefined;
    if (timingChanged && !repeat && input.scheduleAt === undefined) this.requireTimeAhead(row, now);
    const timing = { schedule_at: input.scheduleAt ?? row.schedule_at, repeat_unit: repeat?.unit ?? null, repeat_frequency: repeat?.frequency ?? null };
    const next = !timingChanged ? row.next_fire_at : repeat ? nextRecurrence(timing, now) : timing.schedule_at;
    // A schedule that becomes active again, or changes kind, counts against that kind's limit.
    if (next !== null && (row.next_fire_at === null || Boolean(repeat) !== Boolean(current)))
      await this.checkLimit(trx, row.instance_id, Boolean(repeat), row.id);
    await trx.update(row.id, {
      ...timing,
      ...(input.data !== undefined ? { data: JSON.stringify(input.data) } : {}),
      next_fire_at: next,
      updated_at: now,
      // A firing in progress on some node loses its lease and does not happen; the schedule
      // fires as changed (at once with the new data, when it was due).
      lease_owner: null,
      lease_expires_at: null,
    });
  }

  /** Becoming (or re-arming) a one-time schedule whose time has passed needs a new time. */
  private requireTimeAhead(row: ScheduleRow, now: number): void {
    const minLeadSeconds = this.limits.minLeadSeconds;
    if (row.schedule_at >= now + minLeadSeconds * 1000) return;
    throw new ValidationError(
      `schedule_at is required: the schedule's time ${new Date(row.schedule_at).toISOString()} is not ${minLeadSeconds} seconds ahead`,
      [{ field: 'schedule_at' }],
    );
  }

  /** Active (not yet fired) schedules of one kind count against that kind's limit. */
  private async checkLimit(store: ScheduleStore, instanceId: number, recurring: boolean, exceptId?: number): Promise<void> {
    const n = await store.countActive(instanceId, recurring, exceptId);
    const max = recurring ? this.limits.maxRecurringPerInstance : this.limits.maxOneTimePerInstance;
    if (n >= max) {
      const setting = recurring ? 'schedules.maxRecurringPerInstance' : 'schedules.maxOneTimePerInstance';
      throw new ValidationError(`this instance already has ${n} ${recurring ? 'recurring' : 'one-time'} schedules, the limit (${setting})`, [
        { field: recurring ? 'repeat' : 'schedule_at', message: `at most ${max} per instance`, limit: max },
      ]);
    }
  }

  private instanceOf(koa: Koa.Context): Promise<Instance> {
    return this.ctx.instances.require(idParam(koa.params.id, 'instance'));
  }

  private async readBody(koa: Koa.Context, partial: boolean): Promise<ScheduleInput> {
    const { clock, config } = this.ctx;
    const options = { partial, now: clock.now(), minLeadSeconds: this.limits.minLeadSeconds, maxDataBytes: this.limits.maxDataBytes };
    return readScheduleBody(await readJsonObject(koa, config.server.maxBodyBytes), options);
  }
}

async function find(store: ScheduleStore, instanceId: number, name: string): Promise<ScheduleRow> {
  const row = await store.find(instanceId, name);
  if (!row) throw new NotFoundError(`instance ${instanceId} has no schedule "${name}"`);
  return row;
}
