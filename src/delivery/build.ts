import type { CallbackSettings } from '../instances/settings.js';
import type { Instance } from '../instances/store.js';
import type { NotificationRow } from '../events/store.js';
import { renderCallbackTemplate, type Escape } from './callback-template.js';
import { CONTENT_TYPES, serialize, type Format } from '../lib/body-format.js';

/**
 * Turns a stored notification into the HTTP request(s) that deliver it: the body in the instance's
 * format (polling and webhook notifications get their records back from the events), or, with a callback
 * template, one request per event. Signing happens in the dispatcher, over these exact bytes.
 */
export interface CallbackRequest {
  /** `webhook-id`: the notification id; in templated mode `<notification id>.<n>`, one per event. */
  webhookId: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

function authHeaders(cb: CallbackSettings): Record<string, string> {
  if (cb.auth.type === 'basic') return { authorization: `Basic ${Buffer.from(`${cb.auth.username}:${cb.auth.password}`).toString('base64')}` };
  if (cb.auth.type === 'bearer') return { authorization: `Bearer ${cb.auth.token}` };
  return {};
}

const ESCAPES: Record<Format, Escape> = { json: 'json', xml: 'xml', form: 'url' };

/** GET and DELETE callbacks carry no body: what they say is in their URL, one request per event. */
export const isBodiless = (method: string): boolean => method === 'GET' || method === 'DELETE';

export function buildRequests(
  instance: Instance,
  cb: CallbackSettings,
  body: Record<string, unknown>,
  row: Pick<NotificationRow, 'id' | 'source'>,
): CallbackRequest[] {
  const format = cb.format as Format;
  const bodiless = isBodiless(cb.method);
  const headers: Record<string, string> = {
    ...cb.headers,
    ...authHeaders(cb),
    ...(bodiless ? {} : { 'content-type': CONTENT_TYPES[format] }),
    'user-agent': 'pollgate',
  };
  const url = cb.url!;
  const { id, source } = row;
  if (!cb.template && !bodiless) return [{ webhookId: id, method: cb.method, url, headers, body: serialize(body, format) }];

  // Templated (and bodiless) mode: one request per event. `raw` is the event's own record when polling, its
  // own item for webhooks, the data of a scheduled event. Each request has its own stable
  // webhook-id, so a receiver that dedupes on it keeps every event and drops only repeats.
  const listed = body.events as Array<Record<string, unknown>> | undefined;
  const events = listed?.length ? listed : [body];
  const raw = body.raw ?? body.data;
  // Webhook notifications stored by an older version carry the provider's whole body: it stays each event's raw.
  const keyed = source === 'polling' || (source === 'webhook' && body.receiptId !== undefined);
  return events.map((event, i) => {
    const record = keyed && raw && typeof raw === 'object' ? (raw as Record<string, unknown[]>)[String(event.objectType)]?.[i] : raw;
    const data = { event, raw: record ?? null, instance: { id: instance.id, name: instance.name }, notification: { id } };
    return {
      webhookId: `${id}.${i + 1}`,
      method: cb.method,
      url: renderCallbackTemplate(url, data, 'url'),
      headers,
      body: bodiless ? '' : renderCallbackTemplate(cb.template!, data, ESCAPES[format]),
    };
  });
}
