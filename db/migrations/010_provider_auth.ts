import type { Knex } from 'knex';

/**
 * Provider auth of an instance (OAuth 2.0 and 1.0a): its tokens as one encrypted JSON value (so a
 * rotated refresh token is written with its access token in one statement), their expiry, the
 * auth state shown in status, and the refresh lease that makes refresh single-flight across nodes.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('instance_auth', (t) => {
    t.integer('instance_id').primary().references('instances.id').onDelete('CASCADE');
    t.string('type', 32).notNullable();
    // 'ok' | 'failed' (a refresh is under way while refresh_until is in the future).
    t.string('state', 16).notNullable();
    t.text('tokens').notNullable();
    t.bigInteger('expires_at');
    t.bigInteger('last_refresh_at');
    t.text('last_error');
    t.string('refresh_owner', 128);
    t.bigInteger('refresh_until');
    t.bigInteger('updated_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('instance_auth');
}
