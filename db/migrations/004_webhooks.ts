import type { Knex } from 'knex';

/**
 * Webhook mode: every received body is stored before the answer (the ingress log) and mapped
 * asynchronously; deregistrations that failed at DELETE are retried from their own table.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('webhook_receipts', (t) => {
    t.increments('id').primary();
    t.integer('instance_id').notNullable().references('instances.id').onDelete('CASCADE');
    t.bigInteger('received_at').notNullable();
    t.string('content_type', 255);
    t.text('headers').notNullable();
    t.text('body');
    t.string('delivery_id', 255);
    t.boolean('verified').notNullable();
    // pending → processed | failed; rejected (bad signature) is stored without its body.
    t.string('status', 16).notNullable();
    t.text('reason');
    t.integer('events_count').notNullable().defaultTo(0);
    t.text('unmapped');
    t.integer('attempts').notNullable().defaultTo(0);
    t.bigInteger('next_attempt_at').notNullable();
    t.string('lease_owner', 64);
    t.bigInteger('lease_expires_at');
    t.bigInteger('processed_at');
    t.unique(['instance_id', 'delivery_id']);
    t.index(['status', 'next_attempt_at']);
    t.index(['instance_id', 'id']);
  });

  await knex.schema.createTable('webhook_deregistrations', (t) => {
    t.increments('id').primary();
    t.integer('instance_id').notNullable();
    t.string('element_key', 64).notNullable();
    // The instance configuration (secrets still encrypted) needed to render the template.
    t.text('configuration').notNullable();
    t.string('webhook_id', 255).notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.bigInteger('next_attempt_at').notNullable();
    t.text('last_error');
    t.string('lease_owner', 64);
    t.bigInteger('lease_expires_at');
    t.bigInteger('created_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('webhook_deregistrations');
  await knex.schema.dropTableIfExists('webhook_receipts');
}
