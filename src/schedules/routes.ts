import type Router from '@koa/router';
import type { GatewayContext } from '../context.js';
import { readJsonObject } from '../api/body.js';
import { idParam, readPageRequest, sendPage } from '../api/pagination.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { nextRecurrence, presentSchedule, readScheduleBody, type ScheduleRow } from './model.js';
import type { ScheduleStore } from './store.js';

/**
 * POST/GET/PUT/DELETE /instances/:id/schedules[/:name] (worker.ts fires them).
 * A duplicate name is a 409; every other rule (lead time, data size, per-instance limits) a 400
 * naming it. Checks and writes of one instance's schedules run one at a time (`ScheduleStore.serialized`).
 */
export function scheduleRoutes(ctx: GatewayContext) {
  const { clock, instances, config } = ctx;
  const schedules = ctx.stores.schedules;
  const limits = config.schedules;
  const bodyOptions = (partial: boolean) => ({ partial, now: clock.now(), minLeadSeconds: limits.minLeadSeconds, maxDataBytes: limits.maxDataBytes });

  async function find(store: ScheduleStore, instanceId: number, name: string): Promise<ScheduleRow> {
    const row = await store.find(instanceId, name);
    if (!row) throw new NotFoundError(`instance ${instanceId} has no schedule "${name}"`);
    return row;
  }

  /** Active (not yet fired) schedules of one kind count against that kind's limit. */
  async function checkLimit(store: ScheduleStore, instanceId: number, recurring: boolean, exceptId?: number): Promise<void> {
    const n = await store.countActive(instanceId, recurring, exceptId);
    const max = recurring ? limits.maxRecurringPerInstance : limits.maxOneTimePerInstance;
    if (n >= max) {
      const setting = recurring ? 'schedules.maxRecurringPerInstance' : 'schedules.maxOneTimePerInstance';
      throw new ValidationError(`this instance already has ${n} ${recurring ? 'recurring' : 'one-time'} schedules, the limit (${setting})`, [
        { field: recurring ? 'repeat' : 'schedule_at', message: `at most ${max} per instance`, limit: max },
      ]);
    }
  }

  const routes = (router: Router) => {
    router.post('/instances/:id/schedules', async (koa) => {
      const instance = await instances.require(idParam(koa.params.id, 'instance'));
      const input = readScheduleBody(await readJsonObject(koa, config.server.maxBodyBytes), bodyOptions(false));
      const name = input.name!;
      const row = await schedules.serialized(instance.id, async (trx) => {
        if (await trx.find(instance.id, name)) {
          throw new ConflictError(`instance ${instance.id} already has a schedule "${name}"`);
        }
        await checkLimit(trx, instance.id, Boolean(input.repeat));
        const now = clock.now();
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
    });

    router.get('/instances/:id/schedules', async (koa) => {
      const instance = await instances.require(idParam(koa.params.id, 'instance'));
      const page = readPageRequest(koa);
      sendPage(koa, await schedules.list(instance.id, page.before, page.pageSize + 1), page, (r) => r.id, presentSchedule);
    });

    router.get('/instances/:id/schedules/:name', async (koa) => {
      const instance = await instances.require(idParam(koa.params.id, 'instance'));
      koa.body = presentSchedule(await find(schedules, instance.id, koa.params.name));
    });

    router.put('/instances/:id/schedules/:name', async (koa) => {
      const instance = await instances.require(idParam(koa.params.id, 'instance'));
      const input = readScheduleBody(await readJsonObject(koa, config.server.maxBodyBytes), bodyOptions(true));
      koa.body = presentSchedule(
        await schedules.serialized(instance.id, async (trx) => {
          const row = await find(trx, instance.id, koa.params.name);
          if (input.name !== undefined && input.name !== row.name)
            throw new ValidationError('a schedule cannot be renamed; delete it and create another', [{ field: 'name' }]);
          const now = clock.now();
          const current = row.repeat_unit ? { unit: row.repeat_unit, frequency: row.repeat_frequency! } : null;
          const repeat = input.repeat === undefined ? current : input.repeat;
          const timingChanged = input.scheduleAt !== undefined || input.repeat !== undefined;
          // Becoming (or re-arming) a one-time schedule whose time has passed needs a new time.
          if (timingChanged && !repeat && input.scheduleAt === undefined && row.schedule_at < now + limits.minLeadSeconds * 1000) {
            throw new ValidationError(
              `schedule_at is required: the schedule's time ${new Date(row.schedule_at).toISOString()} is not ${limits.minLeadSeconds} seconds ahead`,
              [{ field: 'schedule_at' }],
            );
          }
          const timing = { schedule_at: input.scheduleAt ?? row.schedule_at, repeat_unit: repeat?.unit ?? null, repeat_frequency: repeat?.frequency ?? null };
          const next = !timingChanged ? row.next_fire_at : repeat ? nextRecurrence(timing, now) : timing.schedule_at;
          if (next !== null && (row.next_fire_at === null || Boolean(repeat) !== Boolean(current))) await checkLimit(trx, instance.id, Boolean(repeat), row.id);
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
          return find(trx, instance.id, row.name);
        }),
      );
    });

    router.delete('/instances/:id/schedules/:name', async (koa) => {
      const instance = await instances.require(idParam(koa.params.id, 'instance'));
      const removed = await schedules.remove(instance.id, koa.params.name);
      if (removed === 0) throw new NotFoundError(`instance ${instance.id} has no schedule "${koa.params.name}"`);
      // Freshworks' $schedule.delete answers a status and a message.
      koa.body = { status: 200, message: `Schedule "${koa.params.name}" deleted` };
    });
  };

  return routes;
}
