import type { Knex } from 'knex';

/**
 * Provider webhooks that lapse unless refreshed (a registration with `expiry`): one row per instance
 * and registration, with when the provider lets it lapse and when pollgate refreshes it next
 * (claimed with a lease like other due work; src/webhooks/refresh.ts).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('webhook_refreshes', (t) => {
    t.increments('id').primary();
    t.integer('instance_id').notNullable();
    t.string('registration', 64).notNullable();
    t.string('webhook_id', 255).notNullable();
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('next_attempt_at').notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('last_error');
    t.bigInteger('refreshed_at');
    t.string('lease_owner', 64);
    t.bigInteger('lease_expires_at');
    t.bigInteger('created_at').notNullable();
    t.unique(['instance_id', 'registration']);
    t.index(['next_attempt_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('webhook_refreshes');
}
