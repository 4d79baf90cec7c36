import type Router from '@koa/router';
import type { Knex } from 'knex';
import { idParam, readPageRequest, sendPage } from '../api/pagination.js';
import { NotFoundError } from '../errors.js';
import type { InstanceService } from '../instances/service.js';

/**
 * GET /instances/:id/webhooks/receipts — the ingress log: verification, status, events produced.
 * Lists leave bodies out (a page of 500 large bodies would be hundreds of MB); GET one receipt for
 * its body.
 */
interface ReceiptRow {
  id: number;
  received_at: number;
  content_type: string | null;
  headers: string;
  body: string | null;
  delivery_id: string | null;
  verified: number | boolean;
  status: string;
  reason: string | null;
  events_count: number;
  unmapped: string | null;
  attempts: number;
  processed_at: number | null;
}

export function receiptRoutes(db: Knex, instances: InstanceService) {
  return (router: Router) => {
    router.get('/instances/:id/webhooks/receipts', async (ctx) => {
      const instance = await instances.require(idParam(ctx.params.id, 'instance'));
      const page = readPageRequest(ctx);
      const q = db('webhook_receipts').where({ instance_id: instance.id }).orderBy('id', 'desc').limit(page.pageSize + 1).select(LIST_COLUMNS);
      if (page.before) q.where('id', '<', page.before);
      sendPage(ctx, (await q) as ReceiptRow[], page, (r) => r.id, presentReceipt);
    });

    router.get('/instances/:id/webhooks/receipts/:receiptId', async (ctx) => {
      const instance = await instances.require(idParam(ctx.params.id, 'instance'));
      const id = idParam(ctx.params.receiptId, 'receipt');
      const row = (await db('webhook_receipts').where({ instance_id: instance.id, id }).first()) as ReceiptRow | undefined;
      if (!row) throw new NotFoundError(`instance ${instance.id} has no webhook receipt ${id}`);
      ctx.body = { ...presentReceipt(row), body: row.body, unmapped: row.unmapped ? JSON.parse(row.unmapped) : [] };
    });
  };
}

const LIST_COLUMNS = ['id', 'received_at', 'content_type', 'headers', 'delivery_id', 'verified', 'status', 'reason', 'events_count', 'attempts', 'processed_at'];

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
