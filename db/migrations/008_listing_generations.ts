import type { Knex } from 'knex';

/**
 * Delete detection by mark-and-sweep. Every full listing of an object gets a generation number
 * (`listing_generation`, counted per poll object); each snapshot row carries the generation of the
 * last listing that met it. `listed_generation` is the generation of the last listing that
 * completed: rows marked before the previous complete listing were missing from two complete
 * listings in a row, and only those are deleted. NULL on a snapshot row: not met by a listing yet.
 * `reported_deleted`: the provider reported the record deleted (a flag, or a listing of deleted
 * records) and DELETED was raised then — the sweep removes such a row without raising it again.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('poll_objects', (t) => {
    t.integer('listing_generation').notNullable().defaultTo(0);
    t.integer('listed_generation');
  });
  await knex.schema.alterTable('snapshots', (t) => {
    t.integer('listed_generation');
    t.boolean('reported_deleted').notNullable().defaultTo(false);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('snapshots', (t) => {
    t.dropColumn('reported_deleted');
    t.dropColumn('listed_generation');
  });
  await knex.schema.alterTable('poll_objects', (t) => {
    t.dropColumn('listed_generation');
    t.dropColumn('listing_generation');
  });
}
