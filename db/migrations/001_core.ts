import type { Knex } from 'knex';

/**
 * The core tables: connectors registered through the API, instances, what the poller tracks per
 * object type, the snapshot it diffs against, the event store and the notification outbox.
 * Times are epoch milliseconds (bigint) so both databases compare them the same way.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('connectors', (t) => {
    t.string('key', 64).primary();
    t.text('definition').notNullable();
    t.bigInteger('created_at').notNullable();
  });

  await knex.schema.createTable('instances', (t) => {
    t.increments('id').primary();
    t.string('element_key', 64).notNullable();
    t.string('name', 255).notNullable();
    t.text('tags').notNullable().defaultTo('[]');
    // The instance JSON's configuration with secret values encrypted in place.
    t.text('configuration').notNullable();
    t.string('vendor_type', 16).notNullable();
    t.boolean('events_enabled').notNullable().defaultTo(true);
    // Set when the callback answered 410 Gone: notifications are held until events are re-enabled.
    t.boolean('callback_disabled').notNullable().defaultTo(false);
    t.string('webhook_token', 64).unique();
    t.string('webhook_id', 255);
    // Encrypted JSON: [{secret, createdAt, expiresAt|null}], newest first.
    t.text('signing_secrets');
    t.bigInteger('next_sequence').notNullable().defaultTo(1);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });

  await knex.schema.createTable('poll_objects', (t) => {
    t.increments('id').primary();
    t.integer('instance_id').notNullable().references('instances.id').onDelete('CASCADE');
    t.string('object_type', 128).notNullable();
    t.text('config').notNullable();
    t.bigInteger('interval_ms').notNullable();
    t.bigInteger('next_poll_at').notNullable();
    t.string('lease_owner', 64);
    t.bigInteger('lease_expires_at');
    // Start time of the last successful poll: the next since-time is this minus the overlap.
    t.bigInteger('watermark').notNullable();
    t.bigInteger('full_listing_at');
    t.bigInteger('last_poll_at');
    t.bigInteger('last_success_at');
    t.integer('last_duration_ms');
    t.integer('last_fetched');
    t.integer('last_created');
    t.integer('last_updated');
    t.integer('last_deleted');
    t.text('last_error');
    t.bigInteger('last_error_at');
    t.string('last_node', 64);
    t.integer('failures').notNullable().defaultTo(0);
    t.unique(['instance_id', 'object_type']);
    t.index(['next_poll_at']);
  });

  await knex.schema.createTable('snapshots', (t) => {
    t.integer('instance_id').notNullable().references('instances.id').onDelete('CASCADE');
    t.string('object_type', 128).notNullable();
    t.string('object_id', 255).notNullable();
    t.string('hash', 64).notNullable();
    t.bigInteger('seen_at').notNullable();
    t.primary(['instance_id', 'object_type', 'object_id']);
  });

  await knex.schema.createTable('notifications', (t) => {
    t.string('id', 40).primary();
    t.integer('instance_id').notNullable().references('instances.id').onDelete('CASCADE');
    t.string('object_type', 128);
    t.string('source', 16).notNullable();
    // pending → delivering → delivered | (retry) pending | dead
    t.string('status', 16).notNullable();
    t.text('payload').notNullable();
    t.integer('event_count').notNullable();
    t.integer('attempt_count').notNullable().defaultTo(0);
    t.bigInteger('next_attempt_at').notNullable();
    t.string('lease_owner', 64);
    t.bigInteger('lease_expires_at');
    t.integer('last_status_code');
    t.text('last_error');
    t.text('response_data');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.bigInteger('delivered_at');
    t.index(['status', 'next_attempt_at']);
    t.index(['instance_id', 'created_at']);
  });

  await knex.schema.createTable('events', (t) => {
    t.increments('id').primary();
    t.integer('instance_id').notNullable().references('instances.id').onDelete('CASCADE');
    t.bigInteger('sequence').notNullable();
    t.string('event_type', 16).notNullable();
    t.string('object_type', 128).notNullable();
    t.string('object_id', 255).notNullable();
    t.string('element_key', 64).notNullable();
    t.string('date', 32).notNullable();
    t.text('raw');
    t.string('source', 16).notNullable();
    t.string('notification_id', 40).references('notifications.id').onDelete('SET NULL');
    t.bigInteger('created_at').notNullable();
    t.index(['instance_id', 'id']);
    t.index(['notification_id']);
  });

  await knex.schema.createTable('attempts', (t) => {
    t.increments('id').primary();
    t.string('notification_id', 40).notNullable().references('notifications.id').onDelete('CASCADE');
    t.bigInteger('attempted_at').notNullable();
    t.integer('status_code');
    t.integer('duration_ms').notNullable();
    t.text('response_body');
    t.text('error');
    t.string('node', 64);
    t.index(['notification_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['attempts', 'events', 'notifications', 'snapshots', 'poll_objects', 'instances', 'connectors']) {
    await knex.schema.dropTableIfExists(table);
  }
}
