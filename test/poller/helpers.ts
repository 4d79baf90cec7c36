import type { ConnectorDefinition } from '../../src/connectors/schema.js';
import type { TestGateway } from '../helpers/gateway.js';

/** A poller URL asking the emulated provider for contacts changed since the since-time. */
export const CONTACTS_SINCE = "/hubs/crm/contacts?where=updated_at>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSS'Z'}'";
/** The emulated provider's record dates. */
export const PROVIDER_DATES = {
  updatedDateField: 'updated_at',
  updatedDateFormat: "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
  createdDateField: 'created_at',
  createdDateFormat: "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
};

/**
 * A connector for the emulated provider, registered through POST /elements like a user would.
 * `poller` entries become the connector's `events.poller` defaults.
 */
export function providerConnector(
  key: string,
  extra: Partial<ConnectorDefinition> & { poller?: Record<string, unknown>; resources?: Record<string, unknown> } = {},
): Record<string, unknown> {
  const { poller, resources, ...rest } = extra;
  return {
    key,
    name: `Test ${key}`,
    hub: 'crm',
    configuration: [
      { key: 'base_url', required: true },
      { key: 'api_key', required: true, secret: true },
    ],
    baseUrl: '<%= iparam.base_url %>',
    auth: { type: 'bearer', token: '<%= iparam.api_key %>' },
    resources: resources ?? {
      contacts: {
        path: '/contacts',
        idField: 'id',
        where: { 'updated_at>': { param: 'updated_since' } },
        pagination: { type: 'page', pageParam: 'page', sizeParam: 'per_page', size: 100 },
      },
    },
    events: {
      supported: ['polling'],
      poller: poller ?? {
        contacts: { url: CONTACTS_SINCE, idField: 'id', datesConfiguration: PROVIDER_DATES },
      },
    },
    ...rest,
  };
}

export async function registerConnector(t: TestGateway, def: Record<string, unknown>): Promise<void> {
  const res = await t.api.post('elements', { json: def });
  if (res.statusCode !== 201) throw new Error(`connector registration failed: ${res.statusCode} ${JSON.stringify(res.body)}`);
}

export async function createInstance(
  t: TestGateway,
  key: string,
  providerUrl: string,
  configuration: Record<string, unknown> = {},
): Promise<{ id: number } & Record<string, unknown>> {
  const res = await t.api.post('instances', {
    json: {
      element: { key },
      name: `${key} test`,
      configuration: {
        base_url: providerUrl,
        api_key: 'sk-test-secret-123',
        'event.vendor.type': 'polling',
        'event.poller.refresh_interval': '5',
        ...configuration,
      },
    },
  });
  if (res.statusCode !== 201) throw new Error(`instance create failed: ${res.statusCode} ${JSON.stringify(res.body)}`);
  return res.body as unknown as { id: number };
}

export async function pollNow(
  t: TestGateway,
  id: number,
): Promise<Record<string, { fetched: number; created: number; updated: number; deleted: number; error?: string }>> {
  const res = await t.api.post(`instances/${id}/events/poll`);
  if (res.statusCode !== 200) throw new Error(`poll failed: ${res.statusCode} ${JSON.stringify(res.body)}`);
  return (res.body as unknown as { objects: Record<string, never> }).objects;
}

export async function listEvents(
  t: TestGateway,
  id: number,
  query = '',
): Promise<Array<{ eventType: string; objectId: string; objectType: string; sequence: number; raw: Record<string, unknown> }>> {
  const res = await t.api.get(`instances/${id}/events?pageSize=500${query}`);
  return res.body as never;
}
