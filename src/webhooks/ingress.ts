import type Koa from 'koa';
import type Router from '@koa/router';
import type { RouteModule } from '../api/app.js';
import type { WebhooksContext } from './context.js';
import { readRawBody } from '../api/body.js';
import { RateLimiter } from '../api/rate-limit.js';
import { ApiError, NotFoundError, RateLimitedError, ServiceUnavailableError, UnsupportedMediaTypeError } from '../errors.js';
import type { InstanceWork } from '../instances/service.js';
import { renderString } from '../templates/request-template.js';
import type { Instance } from '../instances/store.js';
import { signatureFor, verifyWebhookSignature, type SignatureConfig } from './signatures.js';
import { parseWebhookBody, ACCEPTED_WEBHOOK_TYPES } from './parse-body.js';
import { matchHandshake } from './handshake.js';
import { countWebhookItems, webhookItems, type WebhookEventsMapping } from '../connectors/event-mapping.js';
import { itemSecretCheck } from './item-secret.js';
import { ReceiptWriter } from './receipt-writer.js';
import { firstMatch } from '../lib/json-path.js';
import { pollOnNotification } from './poll-on-notification.js';
import type { WebhookDefinition } from '../connectors/schema.js';

/**
 * POST /hooks/:token — the provider pushes here. In order: unknown token 404, over the instance's
 * rate 429, too large 413, handshake echo, unsupported type 415, bad signature 401, malformed body
 * 400, more items than `webhooks.maxItemsPerBody` 413, no item carrying the `itemSecret` 401; then the raw body is stored durably and the
 * answer is 202 at once. Mapping to events runs afterwards (worker.ts), so a crash after the 202
 * loses nothing. While the body cannot be stored (the database unreachable or locked) the answer
 * is 503 with Retry-After: the provider retries.
 */
const SECRET_HEADER = /authorization|cookie|signature|hmac|token|secret|api[-_]?key/i;
// An instance whose secrets cannot be read waits for an operator: providers are asked to come back in a minute.
const UNREADY_RETRY_AFTER_SECONDS = 60;

export function redactHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = SECRET_HEADER.test(name) ? '********' : Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function webhookSecret(instance: Instance, template: string | undefined): string | undefined {
  if (!template) return undefined;
  try {
    return renderString(template, { iparam: instance.configuration, context: {} }) || undefined;
  } catch {
    // An optional secret field left empty renders as missing: the URL token alone authenticates.
    return undefined;
  }
}

export function webhookIngressRoutes(ctx: WebhooksContext & { onStored: () => void }): RouteModule {
  const { config, clock, instances, onStored } = ctx;
  const { receipts } = ctx.stores;
  const limiter = new RateLimiter(config.webhooks.rateLimitPerMinute, clock);
  const writer = new ReceiptWriter(receipts);

  /**
   * The instance behind a token. 404 only when there is none: a provider drops a hook on a 404
   * (or disables the subscription), so what may pass — the database away (the error middleware
   * answers 503 for it), secrets unreadable until an operator restores the key — never says so.
   */
  async function endpoint(token: string | undefined): Promise<InstanceWork> {
    let work: InstanceWork | undefined;
    try {
      work = token && token.length >= 16 ? await instances.forWebhookToken(token) : undefined;
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      ctx.metrics.errors.inc({ component: 'ingress', kind: 'unexpected' });
      ctx.log.error({ err: err.message }, 'webhook ingress: the instance cannot take webhooks now: answered 503');
      throw new ServiceUnavailableError('this webhook endpoint cannot take webhooks for now', UNREADY_RETRY_AFTER_SECONDS);
    }
    if (!work) throw new NotFoundError('no webhook endpoint with this token');
    return work;
  }

  /** Checks the webhook's signature (401 when it fails); false when the instance has none to check. */
  async function verifySignature(koa: Koa.Context, instance: Instance, webhook: WebhookDefinition | undefined, rawBody: Buffer, now: number): Promise<boolean> {
    const signature = signatureFor(webhook, instance.configuration) as SignatureConfig | undefined;
    const secret = webhookSecret(instance, signature?.secret as string | undefined);
    if (!signature || signature.scheme === 'none' || secret === undefined) return false;
    const url = `${config.server.publicUrl}${koa.originalUrl}`;
    const result = await verifyWebhookSignature(signature, secret, { method: koa.method, url, headers: koa.req.headers, rawBody }, now);
    if (!result.ok) {
      // Counted, not stored: anyone who knows the URL could otherwise fill the database.
      ctx.metrics.webhooks.inc({ status: '401' });
      throw new ApiError(401, 'INVALID_SIGNATURE', `webhook signature check failed: ${result.reason}`);
    }
    return true;
  }

  async function handle(koa: Koa.Context): Promise<void> {
    const { instance, connector } = await endpoint(koa.params.token);
    const wait = limiter.hit(`hook:${instance.id}`);
    if (wait > 0) throw new RateLimitedError(`this instance accepts at most ${config.webhooks.rateLimitPerMinute} webhook requests a minute`, wait);
    const webhook = connector.events?.webhook;
    const rawBody = await readRawBody(koa, config.webhooks.maxBodyBytes);
    const contentType = koa.get('content-type') || undefined;

    if (webhook?.handshake) {
      let parsed: unknown;
      try {
        parsed = rawBody.length ? parseWebhookBody(rawBody, contentType) : undefined;
      } catch {
        parsed = undefined;
      }
      const answer = matchHandshake(webhook.handshake as never, { method: koa.method, query: new URLSearchParams(koa.querystring), body: parsed });
      if (answer) {
        koa.status = answer.status;
        koa.type = answer.contentType;
        koa.body = answer.body;
        return;
      }
    }
    if (koa.method !== 'POST') throw new ApiError(405, 'METHOD_NOT_ALLOWED', 'webhooks are delivered with POST');
    const now = clock.now();
    const headers = koa.req.headers;
    if (webhook?.pollOnNotification) {
      // A thin notification (often without a body): its signature checked, its objects polled now.
      await verifySignature(koa, instance, webhook, rawBody, now);
      await pollOnNotification(ctx, instance.id, webhook.pollOnNotification, now);
      acknowledge(koa, webhook, { status: 'polling', objects: webhook.pollOnNotification });
      ctx.metrics.webhooks.inc({ status: String(koa.status) });
      return;
    }
    const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
    if (!ACCEPTED_WEBHOOK_TYPES.some((t: string) => t === type) && !/^application\/[\w.-]+\+(json|xml)$/.test(type)) {
      throw new UnsupportedMediaTypeError(type || '(none)', [...ACCEPTED_WEBHOOK_TYPES]);
    }

    const signature = signatureFor(webhook, instance.configuration) as SignatureConfig | undefined;
    const mustVerify = await verifySignature(koa, instance, webhook, rawBody, now);
    // Parse now to refuse a malformed body with 400 and one of too many items with 413; mapping re-parses the stored bytes.
    const parsed = parseWebhookBody(rawBody, contentType);
    const mapping = webhook?.events as WebhookEventsMapping | undefined;
    const items = mapping ? countWebhookItems(mapping, parsed) : 0;
    const maxItems = config.webhooks.maxItemsPerBody;
    if (items > maxItems) {
      // Refused before it is stored: mapping's time and memory grow with the items.
      ctx.metrics.webhooks.inc({ status: '413' });
      throw new ApiError(
        413,
        'PAYLOAD_TOO_LARGE',
        `the webhook body holds ${items} items at ${mapping?.itemsPath ?? '$'}; at most ${maxItems} are accepted in one request (webhooks.maxItemsPerBody): send them in smaller batches`,
        [{ field: 'items', count: items, limit: maxItems }],
      );
    }

    const carriesSecret = itemSecretCheck(webhook, instance.configuration);
    if (carriesSecret && mapping && !webhookItems(mapping, parsed).some(carriesSecret)) {
      // Not from the subscription this instance made (or forged): counted, not stored.
      ctx.metrics.webhooks.inc({ status: '401' });
      throw new ApiError(401, 'INVALID_ITEM_SECRET', 'no item of the webhook body carries the secret given to the provider when subscribing');
    }

    const deliveryId = deliveryIdOf(webhook, signature?.scheme, headers, parsed);
    const row = {
      instance_id: instance.id,
      received_at: now,
      content_type: contentType ?? null,
      headers: JSON.stringify(redactHeaders(headers)),
      body: rawBody.toString('utf8'),
      delivery_id: deliveryId ?? null,
      verified: Boolean(mustVerify),
      status: 'pending' as const,
      next_attempt_at: now,
    };
    const stored = await writer.write(row);
    if (!stored) {
      // A provider retrying a delivery it already made: accepted, nothing new.
      acknowledge(koa, webhook, { status: 'duplicate', deliveryId });
      ctx.metrics.webhooks.inc({ status: 'duplicate' });
      return;
    }
    acknowledge(koa, webhook, { status: 'accepted' });
    ctx.metrics.webhooks.inc({ status: String(koa.status) });
    onStored();
  }

  return (router: Router) => {
    router.post('/hooks/:token', handle);
    router.get('/hooks/:token', handle);
  };
}

/**
 * The id that makes a retried (or replayed) delivery a duplicate: the connector's
 * `deliveryIdHeader`, else the value at its `deliveryIdPath` in the body, else Standard Webhooks'
 * `webhook-id` (which that scheme's signature covers). A connector that declares none has no id:
 * such deliveries can be replayed (see docs/security.md).
 */
const STANDARD_WEBHOOKS_ID_HEADER = 'webhook-id';

function deliveryIdOf(
  webhook: Pick<WebhookDefinition, 'deliveryIdHeader' | 'deliveryIdPath'> | undefined,
  scheme: string | undefined,
  headers: Record<string, string | string[] | undefined>,
  body: unknown,
): string | undefined {
  if (webhook?.deliveryIdHeader) return firstHeader(headers[webhook.deliveryIdHeader.toLowerCase()]);
  if (webhook?.deliveryIdPath) {
    const id = firstMatch(body, webhook.deliveryIdPath);
    const text = typeof id === 'string' ? id : typeof id === 'number' ? String(id) : undefined;
    return text && text.length <= 255 ? text : undefined;
  }
  return scheme === 'standard-webhooks' ? firstHeader(headers[STANDARD_WEBHOOKS_ID_HEADER]) : undefined;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v && v.length <= 255 ? v : undefined;
}

/**
 * Answers an accepted notification: 202 with what became of it, or — for a provider that asks for
 * it (`acknowledgeStatus`, e.g. "200 or 204 status code and an empty response body") — that
 * status with no body.
 */
function acknowledge(koa: Koa.Context, webhook: WebhookDefinition | undefined, receipt: Record<string, unknown>): void {
  const status = webhook?.acknowledgeStatus ?? 202;
  if (status === 202) {
    koa.status = 202;
    koa.body = receipt;
    return;
  }
  // Koa turns a null body into a 204: an empty string keeps a 200.
  koa.body = status === 204 ? null : '';
  koa.status = status;
  koa.remove('Content-Type');
}
