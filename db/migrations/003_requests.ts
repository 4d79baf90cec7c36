import type { Knex } from 'knex';

/** The log of request-template invocations (secrets redacted before they are written). */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('request_log', (t) => {
    t.increments('id').primary();
    t.integer('instance_id').notNullable().references('instances.id').onDelete('CASCADE');
    t.string('template', 128).notNullable();
    t.string('method', 8).notNullable();
    t.text('url').notNullable();
    t.integer('status');
    t.string('error_source', 16);
    t.integer('attempts').notNullable();
    t.integer('duration_ms').notNullable();
    t.text('error');
    t.bigInteger('at').notNullable();
    t.index(['instance_id', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('request_log');
}
