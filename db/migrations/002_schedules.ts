import type { Knex } from 'knex';

/** Scheduled events (Freshworks-style): one-time or recurring, fired through the delivery path. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('schedules', (t) => {
    t.increments('id').primary();
    t.integer('instance_id').notNullable().references('instances.id').onDelete('CASCADE');
    t.string('name', 128).notNullable();
    t.text('data').notNullable();
    t.bigInteger('schedule_at').notNullable();
    t.string('repeat_unit', 16);
    t.integer('repeat_frequency');
    // Null once a one-time schedule has fired.
    t.bigInteger('next_fire_at');
    t.string('lease_owner', 64);
    t.bigInteger('lease_expires_at');
    t.integer('fire_count').notNullable().defaultTo(0);
    t.bigInteger('last_fired_at');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.unique(['instance_id', 'name']);
    t.index(['next_fire_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('schedules');
}
