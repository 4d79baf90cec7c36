import type { Knex } from 'knex';

/**
 * Templated callbacks send one request per event: `requests_done` counts the requests of a
 * notification already accepted by the receiver, so a retry sends only the rest.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('notifications', (t) => {
    t.integer('requests_done').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('notifications', (t) => {
    t.dropColumn('requests_done');
  });
}
