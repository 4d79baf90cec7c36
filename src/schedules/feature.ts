import type Router from '@koa/router';
import type { Feature, GatewayContext } from '../context.js';
import { readJsonObject } from '../api/body.js';
import { idParam } from '../api/pagination.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { nextRecurrence, presentSchedule, readScheduleBody, type ScheduleRow } from './model.js';
import { Scheduler } from './scheduler.js';

/** POST/GET/PUT/DELETE /instances/:id/schedules[/:name], and the scheduler that fires them. */
export function scheduleFeature(ctx: GatewayContext): Feature & { scheduler: Scheduler } {
  const { db, clock, instances, config } = ctx;
  const scheduler = new Scheduler(ctx);
  const limits = config.schedules;
  const bodyOptions = (partial: boolean) => ({ partial, now: clock.now(), minLeadSeconds: limits.minLeadSeconds, maxDataBytes: limits.maxDataBytes });

  async function find(instanceId: number, name: string): Promise<ScheduleRow> {
    const row = (await db('schedules').where({ instance_id: instanceId, name }).first()) as ScheduleRow | undefined;
    if (!row) throw new NotFoundError(`instance ${instanceId} has no schedule "${name}"`);
    return row;
  }

  async function checkLimits(instanceId: number, recurring: boolean, exceptId?: number): Promise<void> {
    const q = db('schedules').where({ instance_id: instanceId }).whereNotNull('next_fire_at');
    if (exceptId) q.whereNot('id', exceptId);
    if (recurring) q.whereNotNull('repeat_unit');
    else q.whereNull('repeat_unit');
    const [{ n }] = await q.count<{ n: number }[]>({ n: '*' });
    const max = recurring ? limits.maxRecurringPerInstance : limits.maxOneTimePerInstance;
    if (Number(n) >= max) {
      throw new ValidationError(`this instance already has ${n} ${recurring ? 'recurring' : 'one-time'} schedules, the limit (schedules.max${recurring ? 'Recurring' : 'OneTime'}PerInstance)`, [{ field: recurring ? 'repeat' : 'schedule_at', limit: max }]);
    }
  }

  const routes = (router: Router) => {
    router.post('/instances/:id/schedules', async (koa) => {
      const instance = await instances.require(idParam(koa.params.id, 'instance'));
      const input = readScheduleBody(await readJsonObject(koa, config.server.maxBodyBytes), bodyOptions(false));
      if (await db('schedules').where({ instance_id: instance.id, name: input.name }).first()) throw new ConflictError(`instance ${instance.id} already has a schedule "${input.name}"`);
      await checkLimits(instance.id, Boolean(input.repeat));
      const now = clock.now();
      await db('schedules').insert({
        instance_id: instance.id, name: input.name, data: JSON.stringify(input.data), schedule_at: input.scheduleAt,
        repeat_unit: input.repeat?.unit ?? null, repeat_frequency: input.repeat?.frequency ?? null, next_fire_at: input.scheduleAt,
        created_at: now, updated_at: now,
      });
      koa.status = 201;
      koa.body = presentSchedule(await find(instance.id, input.name!));
    });

    router.get('/instances/:id/schedules', async (koa) => {
      const instance = await instances.require(idParam(koa.params.id, 'instance'));
      const rows = (await db('schedules').where({ instance_id: instance.id }).orderBy('id', 'desc')) as ScheduleRow[];
      koa.body = rows.map(presentSchedule);
    });

    router.get('/instances/:id/schedules/:name', async (koa) => {
      const instance = await instances.require(idParam(koa.params.id, 'instance'));
      koa.body = presentSchedule(await find(instance.id, koa.params.name));
    });

    router.put('/instances/:id/schedules/:name', async (koa) => {
      const instance = await instances.require(idParam(koa.params.id, 'instance'));
      const row = await find(instance.id, koa.params.name);
      const input = readScheduleBody(await readJsonObject(koa, config.server.maxBodyBytes), bodyOptions(true));
      if (input.name !== undefined && input.name !== row.name) throw new ValidationError('a schedule cannot be renamed; delete it and create another', [{ field: 'name' }]);
      const repeat = input.repeat === undefined ? (row.repeat_unit ? { unit: row.repeat_unit, frequency: row.repeat_frequency! } : null) : input.repeat;
      if (Boolean(repeat) !== Boolean(row.repeat_unit) || row.next_fire_at === null) await checkLimits(instance.id, Boolean(repeat), row.id);
      const scheduleAt = input.scheduleAt ?? row.schedule_at;
      const now = clock.now();
      const base = { schedule_at: scheduleAt, repeat_unit: repeat?.unit ?? null, repeat_frequency: repeat?.frequency ?? null };
      const next = input.scheduleAt !== undefined || input.repeat !== undefined ? (repeat ? nextRecurrence(base, now) : scheduleAt) : row.next_fire_at;
      await db('schedules').where({ id: row.id }).update({ ...base, ...(input.data !== undefined ? { data: JSON.stringify(input.data) } : {}), next_fire_at: next, updated_at: now });
      koa.body = presentSchedule(await find(instance.id, row.name));
    });

    router.delete('/instances/:id/schedules/:name', async (koa) => {
      const instance = await instances.require(idParam(koa.params.id, 'instance'));
      const row = await find(instance.id, koa.params.name);
      await db('schedules').where({ id: row.id }).delete();
      koa.body = {};
    });
  };

  return { name: 'schedules', scheduler, apiRoutes: [routes], start: () => scheduler.start(), stop: () => scheduler.stop() };
}

export type ScheduleFeature = ReturnType<typeof scheduleFeature>;
