import type { Knex } from 'knex';

/**
 * Notifications bound to a connect session instead of an instance: a first connect that fails has
 * no instance, and its CONNECT_FAILED event still goes out through the outbox (leased, signed,
 * retried) to the session's preset callback URL. Such a row has no `instance_id` and names its
 * session; every other notification is unchanged.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('notifications', (t) => {
    t.integer('connect_session_id');
    t.setNullable('instance_id');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex('notifications').whereNull('instance_id').delete();
  await knex.schema.alterTable('notifications', (t) => {
    t.dropColumn('connect_session_id');
    t.dropNullable('instance_id');
  });
}
