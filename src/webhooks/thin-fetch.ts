import type { MappedEvent } from '../connectors/event-mapping.js';
import type { WebhookFetch } from '../connectors/schema.js';
import type { InstanceWork } from '../instances/service.js';
import { firstMatch } from '../lib/json-path.js';
import { ProviderError } from '../provider/http-client.js';
import { callTemplate, parseAnswer, type RegistrationDeps } from './registration.js';

/**
 * Thin notifications (`events.webhook.events.fetch`): the provider says that a record changed, not
 * what it is now. After mapping, each event that is not DELETED gets its record from the request
 * template (the one named for its object type), called with the item's values as `context` — through the connector's auth, rate budget
 * and retries like any provider call. This runs in the webhook processor, after the 202: ingress
 * stays fast whatever the provider's API takes. A 404 or 410 means the record is gone by now: the
 * event becomes DELETED. Any other failure fails the receipt, which is tried again with backoff.
 */
export async function fetchThinRecords(ctx: RegistrationDeps, work: InstanceWork, fetch: WebhookFetch, events: MappedEvent[]): Promise<void> {
  for (const event of events) {
    if (event.eventType === 'DELETED') {
      event.record = undefined;
      continue;
    }
    const request = typeof fetch.request === 'string' ? fetch.request : fetch.request[event.objectType];
    if (request === undefined) continue;
    const context = Object.fromEntries(Object.entries(fetch.context).map(([key, path]) => [key, firstMatch(event.raw, path)]));
    try {
      const result = await callTemplate(ctx, work.connector, request, work.instance.configuration, context, work.instance.id);
      const record = parseAnswer(result.response);
      if (record === undefined || record === null || typeof record !== 'object')
        throw new Error(`the fetch of ${event.objectType} ${event.objectId} answered no JSON object`);
      event.record = record;
      event.raw = record;
    } catch (err) {
      if (!(err instanceof ProviderError && (err.status === 404 || err.status === 410))) throw err;
      event.eventType = 'DELETED';
      event.record = undefined;
    }
  }
}
