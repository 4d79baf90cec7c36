import type { Knex } from 'knex';

/**
 * The two tables a poll writes a row per record into — events and snapshots — lose their foreign
 * keys. PostgreSQL checks a foreign key with a trigger per inserted row (two per event, one per
 * snapshot): a fifth of a first poll's time. What the keys did is now done once per write or by
 * the code that deletes:
 * - a write checks once, in its transaction, that its instance still exists and holds it
 *   (`events/store.ts` `reserveSequence`, `db/instance-guard.ts`);
 * - deleting an instance deletes its events and snapshots in the same transaction
 *   (`instances/store.ts`);
 * - deleting delivered notifications clears their events' notification id in the same
 *   transaction (`events/store.ts`).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('events', (t) => {
    t.dropForeign(['instance_id']);
    t.dropForeign(['notification_id']);
  });
  await knex.schema.alterTable('snapshots', (t) => {
    t.dropForeign(['instance_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex('events').whereNotIn('instance_id', knex('instances').select('id')).delete();
  await knex('events').whereNotIn('notification_id', knex('notifications').select('id')).update({ notification_id: null });
  await knex('snapshots').whereNotIn('instance_id', knex('instances').select('id')).delete();
  await knex.schema.alterTable('events', (t) => {
    t.foreign('instance_id').references('instances.id').onDelete('CASCADE');
    t.foreign('notification_id').references('notifications.id').onDelete('SET NULL');
  });
  await knex.schema.alterTable('snapshots', (t) => {
    t.foreign('instance_id').references('instances.id').onDelete('CASCADE');
  });
}
