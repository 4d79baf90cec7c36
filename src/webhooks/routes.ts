import type Router from '@koa/router';
import type { Knex } from 'knex';
import { idParam, readPageRequest, sendPage } from '../api/pagination.js';
import type { InstanceService } from '../instances/service.js';

/** GET /instances/:id/webhooks/receipts — the ingress log: bodies, verification, events produced. */
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
      const q = db('webhook_receipts').where({ instance_id: instance.id }).orderBy('id', 'desc').limit(page.pageSize + 1);
      if (page.before) q.where('id', '<', page.before);
      sendPage(ctx, (await q) as ReceiptRow[], page, (r) => r.id, (r) => ({
        id: r.id,
        receivedDate: new Date(r.received_at).toISOString(),
        contentType: r.content_type,
        headers: JSON.parse(r.headers),
        body: r.body,
        deliveryId: r.delivery_id,
        verified: Boolean(r.verified),
        status: r.status,
        reason: r.reason,
        eventsCount: r.events_count,
        unmapped: r.unmapped ? JSON.parse(r.unmapped) : [],
        attempts: r.attempts,
        processedDate: r.processed_at ? new Date(r.processed_at).toISOString() : null,
      }));
    });
  };
}
