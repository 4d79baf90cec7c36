import type { Knex } from 'knex';

/**
 * Delta tokens (docs/connectors.md "Delta tokens"): the token the last complete listing of a poll
 * object ended with, sent on its next poll to list only what changed since. NULL: no token yet (or
 * it expired) — the next poll lists everything. `delta_listing`: a hash of the listing the token was
 * made for (its URL with the instance's values): a token of another listing (the instance's
 * configuration changed) is not sent. `poll_requested_at`: when a thin notification last asked for a
 * poll of the object (webhooks/poll-on-notification.ts): one asked while a poll ran polls again
 * after it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('poll_objects', (t) => {
    t.text('delta_token');
    t.string('delta_listing', 64);
    t.bigInteger('poll_requested_at');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('poll_objects', (t) => {
    t.dropColumn('poll_requested_at');
    t.dropColumn('delta_listing');
    t.dropColumn('delta_token');
  });
}
