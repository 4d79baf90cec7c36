import type Koa from 'koa';
import type Router from '@koa/router';
import type { DeliveryContext } from './context.js';
import { readJsonObject } from '../api/body.js';
import { idParam, readPageRequest } from '../api/pagination.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { activeSecrets, newSigningSecret } from './signing.js';
import type { EventStore, NotificationRow } from '../events/store.js';
import type { Instance } from '../instances/store.js';
import { isoOrNull } from '../clock.js';

/**
 * Inspection and replay: a notification with its attempts, retry one, replay everything since a
 * time; and the instance's Standard Webhooks signing secret with rotation.
 */
interface Row extends NotificationRow {
  event_count: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  last_status_code: number | null;
  last_error: string | null;
  response_data: string | null;
  delivered_at: number | null;
}

const iso = isoOrNull;
const NOTIFICATION_STATES = ['pending', 'delivered', 'dead'];

/** A date or date-time in ISO 8601; without an offset it is UTC. */
const ISO_SINCE = /^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:?\d\d)?)?$/i;

function parseSince(value: unknown): number {
  if (typeof value !== 'string' || !ISO_SINCE.test(value)) return NaN;
  const hasOffset = /(Z|[+-]\d\d:?\d\d)$/i.test(value) || !value.includes('T');
  return Date.parse(hasOffset ? value : `${value}Z`);
}

export function deliveryRoutes(ctx: DeliveryContext) {
  const routes = new DeliveryRoutes(ctx);
  return (router: Router) => {
    router.get('/instances/:id/notifications', (koa) => routes.listNotifications(koa));
    router.get('/notifications/:id', (koa) => routes.getNotification(koa));
    router.post('/notifications/:id/retry', (koa) => routes.retry(koa));
    router.post('/instances/:id/notifications/replay', (koa) => routes.replay(koa));
    router.get('/instances/:id/signing-secret', (koa) => routes.signingSecret(koa));
    router.post('/instances/:id/signing-secret/rotate', (koa) => routes.rotateSigningSecret(koa));
  };
}

/** One method per route; a notification is shown by `summarize` in lists and by `present` alone. */
class DeliveryRoutes {
  private readonly store: EventStore;

  constructor(private readonly ctx: DeliveryContext) {
    this.store = ctx.stores.events;
  }

  async listNotifications(koa: Koa.Context): Promise<void> {
    const instance = await this.instanceOf(koa);
    const { pageSize } = readPageRequest(koa);
    const status = koa.query.status;
    if (status !== undefined && (typeof status !== 'string' || !NOTIFICATION_STATES.includes(status))) {
      throw new ValidationError(`status must be one of ${NOTIFICATION_STATES.join(', ')}`, [{ field: 'status' }]);
    }
    const now = this.ctx.clock.now();
    koa.body = (await this.store.notificationsOf<Row>(instance.id, { status, limit: pageSize })).map((row) => summarize(row, now));
  }

  async getNotification(koa: Koa.Context): Promise<void> {
    koa.body = await this.present(await this.requireNotification(koa.params.id));
  }

  async retry(koa: Koa.Context): Promise<void> {
    const row = await this.requireNotification(koa.params.id);
    await this.store.requeue(row.id, this.ctx.clock.now());
    this.ctx.wakeUps.notify('delivery');
    koa.status = 202;
    koa.body = await this.present(await this.requireNotification(row.id));
  }

  async replay(koa: Koa.Context): Promise<void> {
    const instance = await this.instanceOf(koa);
    const body = await readJsonObject(koa, this.ctx.config.server.maxBodyBytes);
    const since = parseSince(body.since);
    if (Number.isNaN(since)) throw new ValidationError('since must be an ISO 8601 date or date-time, e.g. "2026-11-24T00:00:00Z"', [{ field: 'since' }]);
    const replayed = await this.store.replaySince(instance.id, since, this.ctx.clock.now());
    if (replayed > 0) this.ctx.wakeUps.notify('delivery');
    koa.status = 202;
    koa.body = { replayed };
  }

  async signingSecret(koa: Koa.Context): Promise<void> {
    const instance = await this.instanceOf(koa);
    const [current] = activeSecrets(await this.ctx.instances.store.signingSecrets(instance.id), this.ctx.clock.now());
    koa.body = { secret: current?.secret ?? null };
  }

  async rotateSigningSecret(koa: Koa.Context): Promise<void> {
    const { instances, clock, config } = this.ctx;
    const instance = await this.instanceOf(koa);
    const now = clock.now();
    const overlapUntil = now + config.delivery.signingSecretOverlapHours * 3_600_000;
    // The old secrets keep signing (alongside the new one) until the overlap ends.
    const previous = activeSecrets(await instances.store.signingSecrets(instance.id), now).map((s) => ({
      ...s,
      expiresAt: Math.min(s.expiresAt ?? overlapUntil, overlapUntil),
    }));
    const secret = newSigningSecret();
    await instances.store.setSigningSecrets(instance.id, [{ secret, createdAt: now, expiresAt: null }, ...previous]);
    instances.invalidate(instance.id);
    koa.body = { secret, previousValidUntil: iso(overlapUntil) };
  }

  /** A notification with its payload as sent and every attempt. */
  private async present(row: Row) {
    const attempts = await this.store.attemptsOf(row.id);
    return {
      ...summarize(row, this.ctx.clock.now()),
      responseData: row.response_data ? JSON.parse(row.response_data) : null,
      // As sent: a polling or webhook notification's records come back from its events.
      payload: await this.store.notificationBody(row),
      attempts: attempts.map((a) => ({
        date: iso(a.attempted_at as number),
        statusCode: a.status_code,
        durationMs: a.duration_ms,
        responseBody: a.response_body,
        error: a.error,
        node: a.node,
      })),
    };
  }

  private async requireNotification(id: string): Promise<Row> {
    const row = await this.store.notification<Row>(id);
    if (!row) throw new NotFoundError(`notification ${id} does not exist`);
    return row;
  }

  private instanceOf(koa: Koa.Context): Promise<Instance> {
    return this.ctx.instances.require(idParam(koa.params.id, 'instance'));
  }
}

/** What a list shows of a notification: its state, without payload and attempts. */
function summarize(row: Row, now: number) {
  return {
    id: row.id,
    instanceId: row.instance_id,
    objectType: row.object_type,
    source: row.source,
    status: row.status === 'pending' && row.lease_owner && (row.lease_expires_at ?? 0) > now ? 'delivering' : row.status,
    eventCount: row.event_count,
    attemptCount: row.attempt_count,
    nextAttemptDate: row.status === 'pending' ? iso(row.next_attempt_at) : null,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    createdDate: iso(row.created_at),
    deliveredDate: iso(row.delivered_at),
  };
}
