import type { Knex } from 'knex';
import * as core from './001_core.js';
import * as schedules from './002_schedules.js';
import * as requests from './003_requests.js';
import * as webhooks from './004_webhooks.js';
import * as deliveryProgress from './005_delivery_progress.js';
import * as security from './006_security.js';
import * as webhookRegistrations from './007_webhook_registrations.js';
import * as listingGenerations from './008_listing_generations.js';
import * as connectorCatalog from './009_connector_catalog.js';
import * as providerAuth from './010_provider_auth.js';
import * as rateBudgets from './011_rate_budgets.js';
import * as hotTableKeys from './012_hot_table_keys.js';
import * as callbackOrigin from './013_callback_origin.js';
import * as webhookRefreshes from './014_webhook_refreshes.js';
import * as connectSessions from './015_connect_sessions.js';
import * as sessionNotifications from './016_session_notifications.js';
import * as deltaTokens from './017_delta_tokens.js';

/**
 * Every migration, in order. Listed here rather than read from the folder so the same list works
 * under tsx (src) and after the build (dist). Append new ones at the end.
 */
export const migrations: Array<{ name: string; up: (k: Knex) => Promise<void>; down: (k: Knex) => Promise<void> }> = [
  { name: '001_core', ...core },
  { name: '002_schedules', ...schedules },
  { name: '003_requests', ...requests },
  { name: '004_webhooks', ...webhooks },
  { name: '005_delivery_progress', ...deliveryProgress },
  { name: '006_security', ...security },
  { name: '007_webhook_registrations', ...webhookRegistrations },
  { name: '008_listing_generations', ...listingGenerations },
  { name: '009_connector_catalog', ...connectorCatalog },
  { name: '010_provider_auth', ...providerAuth },
  { name: '011_rate_budgets', ...rateBudgets },
  { name: '012_hot_table_keys', ...hotTableKeys },
  { name: '013_callback_origin', ...callbackOrigin },
  { name: '014_webhook_refreshes', ...webhookRefreshes },
  { name: '015_connect_sessions', ...connectSessions },
  { name: '016_session_notifications', ...sessionNotifications },
  { name: '017_delta_tokens', ...deltaTokens },
];
