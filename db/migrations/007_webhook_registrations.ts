import type { Knex } from 'knex';

/**
 * Several webhook registrations per instance: `webhook_ids` holds every id the provider returned,
 * as JSON `{"<registration name>": "<id>"}` (the one-registration form is named "default");
 * `webhook_id` keeps the first for the API's `webhookId`. A queued deregistration names its
 * registration so the retry calls that registration's template with its context.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('instances', (t) => {
    t.text('webhook_ids');
  });
  const registered = (await knex('instances').whereNotNull('webhook_id').select('id', 'webhook_id')) as Array<{ id: number; webhook_id: string }>;
  for (const row of registered)
    await knex('instances')
      .where({ id: row.id })
      .update({ webhook_ids: JSON.stringify({ default: row.webhook_id }) });
  await knex.schema.alterTable('webhook_deregistrations', (t) => {
    t.string('registration', 64).notNullable().defaultTo('default');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('webhook_deregistrations', (t) => {
    t.dropColumn('registration');
  });
  await knex.schema.alterTable('instances', (t) => {
    t.dropColumn('webhook_ids');
  });
}
