/**
 * The event types a Zendesk webhook may subscribe to (`webhook.subscriptions`), as Zendesk lists
 * them. The emulator accepts these and nothing else, so a connector subscribing to a type of our
 * own invention is refused here as Zendesk would refuse it.
 *
 * - "conditional_ticket_events": Webhooks API, "Create or Clone Webhook"
 *   (https://developer.zendesk.com/api-reference/webhooks/webhooks-api/webhooks/): a webhook
 *   connected to triggers or automations subscribes to `conditional_ticket_events`.
 * - User events: https://developer.zendesk.com/api-reference/webhooks/event-types/user-events/ —
 *   "The following sections contain example payloads and event object properties for user event
 *   types", table "Event type | Payload and properties". The page writes three rows with a slash
 *   (`zen:event-type/user.identity_changed`, `…/user.identity_created`, `…/user.merged`); their
 *   example payloads carry `"type": "zen:event-type:user.…"` like every other row, so the colon
 *   form is the one listed here. There is no `user.email_changed`: an email address is one of a
 *   user's identities, and its change arrives as `user.identity_changed` (or `identity_created` /
 *   `identity_deleted` when one is added or removed). The copy of the page read for this list
 *   showed its table up to `user.organization_membership_created`; the rows after it
 *   (`organization_membership_deleted`, `password_changed`, `photo_changed`, `role_changed`,
 *   `deleted`, `suspended_changed`, `tags_changed`, `time_zone_changed`) agree with the
 *   event-type constants of independent Zendesk clients (e.g. nukosuke/go-zendesk), not re-read on
 *   Zendesk's page.
 * - Organization events: https://developer.zendesk.com/api-reference/webhooks/event-types/organization-events/
 *   — the six rows of its "Event type" table.
 */
export const CONDITIONAL_TICKET_EVENTS = 'conditional_ticket_events';

export const USER_EVENT_TYPES = [
  'zen:event-type:user.alias_changed',
  'zen:event-type:user.created',
  'zen:event-type:user.custom_field_changed',
  'zen:event-type:user.custom_role_changed',
  'zen:event-type:user.default_group_changed',
  'zen:event-type:user.details_changed',
  'zen:event-type:user.external_id_changed',
  'zen:event-type:user.group_membership_created',
  'zen:event-type:user.group_membership_deleted',
  'zen:event-type:user.identity_changed',
  'zen:event-type:user.identity_created',
  'zen:event-type:user.identity_deleted',
  'zen:event-type:user.active_changed',
  'zen:event-type:user.last_login_changed',
  'zen:event-type:user.merged',
  'zen:event-type:user.name_changed',
  'zen:event-type:user.notes_changed',
  'zen:event-type:user.only_private_comments_changed',
  'zen:event-type:user.organization_membership_created',
  'zen:event-type:user.organization_membership_deleted',
  'zen:event-type:user.password_changed',
  'zen:event-type:user.photo_changed',
  'zen:event-type:user.role_changed',
  'zen:event-type:user.deleted',
  'zen:event-type:user.suspended_changed',
  'zen:event-type:user.tags_changed',
  'zen:event-type:user.time_zone_changed',
] as const;

export const ORGANIZATION_EVENT_TYPES = [
  'zen:event-type:organization.created',
  'zen:event-type:organization.custom_field_changed',
  'zen:event-type:organization.deleted',
  'zen:event-type:organization.external_id_changed',
  'zen:event-type:organization.name_changed',
  'zen:event-type:organization.tags_changed',
] as const;

const KNOWN = new Set<string>([CONDITIONAL_TICKET_EVENTS, ...USER_EVENT_TYPES, ...ORGANIZATION_EVENT_TYPES]);

/** True for a subscription Zendesk lists. */
export function isZendeskSubscription(type: string): boolean {
  return KNOWN.has(type);
}
