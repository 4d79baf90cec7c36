import type { Knex } from 'knex';

/**
 * The origin (scheme, host, port) of each instance's callback URL, kept by the instance store next
 * to the configuration it comes from: the dispatcher's claim skips the notifications of origins it
 * is not sending to right now (their share of the send slots taken, or their circuit open) without
 * reading every instance's configuration. Existing instances are filled in here.
 */
const CALLBACK_URL = 'event.notification.callback.url';

function originOf(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  try {
    const origin = new URL(value).origin;
    return origin === 'null' ? null : origin;
  } catch {
    return null;
  }
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('instances', (t) => {
    t.text('callback_origin');
  });
  const rows = (await knex('instances').select('id', 'configuration')) as Array<{ id: number; configuration: string }>;
  for (const row of rows) {
    let origin: string | null = null;
    try {
      origin = originOf((JSON.parse(row.configuration) as Record<string, unknown>)[CALLBACK_URL]);
    } catch {
      origin = null;
    }
    if (origin) await knex('instances').where({ id: row.id }).update({ callback_origin: origin });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('instances', (t) => {
    t.dropColumn('callback_origin');
  });
}
