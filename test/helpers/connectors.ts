/** A Freshdesk-like connector definition, valid as it is; each test changes a copy. */
export function freshdesk(): Record<string, any> {
  return {
    key: 'freshdesk',
    name: 'Freshdesk',
    hub: 'helpdesk',
    configuration: [
      { key: 'domain', required: true },
      { key: 'api_key', required: true, secret: true },
      { key: 'webhook_secret', secret: true },
    ],
    baseUrl: 'https://<%= iparam.domain %>.freshdesk.com/api/v2',
    auth: { type: 'basic', username: '<%= iparam.api_key %>', password: 'X' },
    resources: {
      incidents: {
        path: '/tickets',
        idField: 'id',
        recordsPath: '$[*]',
        where: { 'updated_at>': { param: 'updated_since' }, 'status=': { param: 'status' } },
        pagination: { type: 'page', pageParam: 'page', sizeParam: 'per_page', size: 100 },
      },
      contacts: { path: '/contacts', idField: 'id', deletes: true, pagination: { type: 'link' } },
    },
    events: {
      supported: ['polling', 'webhook'],
      poller: {
        incidents: {
          url: "/hubs/helpdesk/incidents?where=updated_at>'${date:yyyy-MM-dd'T'HH:mm:ss'Z'}'",
          idField: 'id',
          datesConfiguration: {
            updatedDateField: 'updated_at',
            updatedDateFormat: "yyyy-MM-dd'T'HH:mm:ss'Z'",
            createdDateField: 'created_at',
            createdDateFormat: "yyyy-MM-dd'T'HH:mm:ss'Z'",
          },
        },
      },
      webhook: {
        register: 'createWebhook',
        deregister: 'deleteWebhook',
        webhookIdPath: '$.id',
        signature: { scheme: 'hmac', algorithm: 'sha256', header: 'X-Signature', encoding: 'base64', secret: '<%= iparam.webhook_secret %>' },
        handshake: { type: 'echo-query', param: 'challenge' },
        deliveryIdHeader: 'X-Delivery-Id',
        events: {
          itemsPath: '$.events[*]',
          objectType: '$.type',
          objectId: ['$.data.id', '$.id'],
          eventType: { from: '$.action', map: { created: 'CREATED', updated: 'UPDATED', deleted: 'DELETED' }, default: 'UPDATED' },
          date: '$.occurred_at',
        },
      },
    },
    requests: {
      createWebhook: {
        schema: { method: 'POST', path: '/webhooks', body: { url: '<%= context.targetUrl %>', secret: '<%= iparam.webhook_secret %>' } },
        secretsInBody: ['webhook_secret'],
        options: { maxAttempts: 3, retryDelay: 1000 },
      },
      deleteWebhook: { schema: { method: 'DELETE', path: '/webhooks/<%= context.webhookId %>' } },
    },
  };
}
