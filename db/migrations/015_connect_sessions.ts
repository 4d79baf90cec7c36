import type { Knex } from 'knex';

/**
 * Connect sessions: one row per hosted connect page an app asked for. The token in the page's URL
 * and the OAuth `state` are stored only as SHA-256 hashes; what the session carries that may be
 * secret (the app's preset configuration, the values the end user typed while away at the
 * provider, the PKCE verifier, an OAuth 1.0a request-token secret) is one encrypted value (`data`).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('connect_sessions', (t) => {
    t.increments('id').primary();
    t.string('public_id', 40).notNullable().unique();
    t.string('token_hash', 64).notNullable().unique();
    t.string('state_hash', 64).unique();
    t.text('element_keys').notNullable();
    t.integer('instance_id').references('instances.id').onDelete('CASCADE');
    t.string('end_user', 255);
    t.text('success_url').notNullable();
    t.text('error_url');
    // pending → authorizing (at the provider) → completed | failed
    t.string('status', 16).notNullable();
    t.text('data').notNullable();
    t.integer('result_instance_id');
    t.text('error');
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('connect_sessions');
}
