import type Router from '@koa/router';
import { idParam, readPageRequest, sendPage } from '../api/pagination.js';
import { NotFoundError } from '../errors.js';
import type { InstanceService } from '../instances/service.js';
import type { ReceiptRow, ReceiptStore } from './store.js';

/**
 * GET /instances/:id/webhooks/receipts — the ingress log: verification, status, events produced.
 * Lists leave bodies out (a page of 500 large bodies would be hundreds of MB); GET one receipt for
 * its body.
 */
export function receiptRoutes(receipts: ReceiptStore, instances: InstanceService) {
  return (router: Router) => {
    router.get('/instances/:id/webhooks/receipts', async (ctx) => {
      const instance = await instances.require(idParam(ctx.params.id, 'instance'));
      const page = readPageRequest(ctx);
      sendPage(ctx, await receipts.list(instance.id, page.before, page.pageSize + 1), page, (r) => r.id, presentReceipt);
    });

    router.get('/instances/:id/webhooks/receipts/:receiptId', async (ctx) => {
      const instance = await instances.require(idParam(ctx.params.id, 'instance'));
      const id = idParam(ctx.params.receiptId, 'receipt');
      const row = await receipts.get(instance.id, id);
      if (!row) throw new NotFoundError(`instance ${instance.id} has no webhook receipt ${id}`);
      ctx.body = { ...presentReceipt(row), body: row.body, unmapped: row.unmapped ? JSON.parse(row.unmapped) : [] };
    });
  };
}

function presentReceipt(r: Omit<ReceiptRow, 'body' | 'unmapped'>) {
  return {
    id: r.id,
    receivedDate: new Date(r.received_at).toISOString(),
    contentType: r.content_type,
    headers: JSON.parse(r.headers),
    deliveryId: r.delivery_id,
    verified: Boolean(r.verified),
    status: r.status,
    reason: r.reason,
    eventsCount: r.events_count,
    attempts: r.attempts,
    processedDate: r.processed_at ? new Date(r.processed_at).toISOString() : null,
  };
}
