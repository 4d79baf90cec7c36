import type { Knex } from 'knex';

/**
 * Custom connectors are shared by every node: `connector_catalog` holds one row whose `version`
 * goes up with every registration, replacement or removal, so a node checks one number per request
 * and reloads the connectors only when another node changed them.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('connector_catalog', (t) => {
    t.integer('id').primary();
    t.bigInteger('version').notNullable();
  });
  await knex('connector_catalog').insert({ id: 1, version: 1 });
  await knex.schema.alterTable('connectors', (t) => {
    t.bigInteger('updated_at');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('connectors', (t) => {
    t.dropColumn('updated_at');
  });
  await knex.schema.dropTableIfExists('connector_catalog');
}
