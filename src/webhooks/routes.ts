import type Router from '@koa/router';
import type { RouteModule } from '../api/app.js';
import { idParam, readPageRequest, sendPage } from '../api/pagination.js';
import type { Clock } from '../clock.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { InstanceService } from '../instances/service.js';
import { RECEIPT_STATES, type ReceiptRow, type ReceiptStore } from './store.js';

/**
 * GET /instances/:id/webhooks/receipts — the ingress log: verification, status, events produced;
 * `?status=failed` lists the receipts parked after `webhooks.maxAttempts`, and
 * POST …/receipts/:receiptId/retry queues one of them again. Lists leave bodies out (a page of 500
 * large bodies would be hundreds of MB); GET one receipt for its body.
 */
export function receiptRoutes({
  stores,
  instances,
  clock,
  onRetried,
}: {
  stores: { receipts: ReceiptStore };
  instances: InstanceService;
  clock: Clock;
  onRetried: () => void;
}): RouteModule {
  const { receipts } = stores;
  async function requireReceipt(instanceId: number, value: string | undefined): Promise<ReceiptRow> {
    const id = idParam(value, 'receipt');
    const row = await receipts.get(instanceId, id);
    if (!row) throw new NotFoundError(`instance ${instanceId} has no webhook receipt ${id}`);
    return row;
  }

  return (router: Router) => {
    router.get('/instances/:id/webhooks/receipts', async (ctx) => {
      const instance = await instances.require(idParam(ctx.params.id, 'instance'));
      const page = readPageRequest(ctx);
      const status = ctx.query.status;
      if (status !== undefined && !RECEIPT_STATES.some((s) => s === status)) {
        throw new ValidationError(`status must be one of ${RECEIPT_STATES.join(', ')}`, [{ field: 'status' }]);
      }
      const rows = await receipts.list(instance.id, { status: status as string | undefined, before: page.before, limit: page.pageSize + 1 });
      sendPage(ctx, rows, page, (r) => r.id, presentReceipt);
    });

    router.get('/instances/:id/webhooks/receipts/:receiptId', async (ctx) => {
      const instance = await instances.require(idParam(ctx.params.id, 'instance'));
      const row = await requireReceipt(instance.id, ctx.params.receiptId);
      ctx.body = { ...presentReceipt(row), body: row.body, unmapped: row.unmapped ? JSON.parse(row.unmapped) : [] };
    });

    router.post('/instances/:id/webhooks/receipts/:receiptId/retry', async (ctx) => {
      const instance = await instances.require(idParam(ctx.params.id, 'instance'));
      const row = await requireReceipt(instance.id, ctx.params.receiptId);
      if (!(await receipts.retry(instance.id, row.id, clock.now()))) {
        throw new ConflictError(`webhook receipt ${row.id} is ${row.status}: only a failed receipt is retried`);
      }
      onRetried();
      ctx.status = 202;
      ctx.body = presentReceipt((await receipts.get(instance.id, row.id))!);
    });
  };
}

function presentReceipt(r: Omit<ReceiptRow, 'body' | 'unmapped'>) {
  return {
    id: r.id,
    receivedDate: new Date(Number(r.received_at)).toISOString(),
    contentType: r.content_type,
    headers: JSON.parse(r.headers),
    deliveryId: r.delivery_id,
    verified: Boolean(r.verified),
    status: r.status,
    reason: r.reason,
    eventsCount: r.events_count,
    attempts: r.attempts,
    nextAttemptDate: r.status === 'pending' ? new Date(Number(r.next_attempt_at)).toISOString() : null,
    processedDate: r.processed_at ? new Date(Number(r.processed_at)).toISOString() : null,
  };
}
