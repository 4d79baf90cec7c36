import type { ConnectorDefinition, WebhookRegistration } from './schema.js';

/** The connector's registrations, the one-registration shorthand included. */
export function registrationsOf(connector: ConnectorDefinition): WebhookRegistration[] {
  const webhook = connector.events?.webhook;
  if (!webhook) return [];
  // A `check` beside `registrations` looks up each registration that names none of its own.
  if (webhook.registrations)
    return webhook.check
      ? webhook.registrations.map((r) => (r.check ? r : { ...r, check: webhook.check, checkIdsPath: webhook.checkIdsPath }))
      : webhook.registrations;
  return webhook.register
    ? [
        {
          name: 'default',
          register: webhook.register,
          deregister: webhook.deregister,
          webhookIdPath: webhook.webhookIdPath,
          webhookIdPattern: webhook.webhookIdPattern,
          ...(webhook.check ? { check: webhook.check, checkIdsPath: webhook.checkIdsPath } : {}),
        },
      ]
    : [];
}
