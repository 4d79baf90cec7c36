import type { Knex } from 'knex';

/**
 * Provider rate budgets (src/provider/budget-store.ts): one row per connector and scope (a provider
 * account shared by several instances, or one instance), shared by every node. PostgreSQL keeps
 * them here; SQLite, one process by design, keeps them in that process and leaves the table empty.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('rate_budgets', (t) => {
    t.string('element_key', 128).notNullable();
    t.string('scope', 255).notNullable();
    // When the next request would go at the steady rate (epoch ms).
    t.bigInteger('tat').notNullable();
    t.bigInteger('paused_until').notNullable().defaultTo(0);
    t.string('pause_reason', 64);
    // The send time the last take granted (NULL: it was refused); read back by that same statement.
    t.bigInteger('granted_at');
    t.bigInteger('updated_at').notNullable();
    t.primary(['element_key', 'scope']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('rate_budgets');
}
