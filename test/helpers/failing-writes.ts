import type { Knex } from 'knex';
import { createDatabase } from '../../src/db/index.js';
import type { TestGateway } from './gateway.js';

export interface FailingWrites {
  /** Drops the trigger: writes succeed again. */
  clear(): Promise<void>;
}

/**
 * Makes the test gateway's database refuse a write, the way a failing disk or a node crashing
 * mid-transaction would: a trigger on `table` raises `message` for each row `when` (a SQL
 * condition on `NEW`) holds, until `clear()`. It opens its own connection, so the gateway's code
 * runs unchanged: the failure comes from the database, inside the transaction under test.
 */
export async function failWrites(t: TestGateway, o: { table: string; on: 'INSERT' | 'UPDATE'; when: string; message: string }): Promise<FailingWrites> {
  const name = `test_fail_${o.table}_${o.on.toLowerCase()}`;
  const db: Knex = createDatabase({ url: t.config.database.url, dataDir: t.dataDir, schema: t.schema, poolMax: 1 });
  const literal = o.message.replace(/'/g, "''");
  try {
    if (db.client.config.client === 'pg') {
      await db.raw(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '${literal}'; END $$`);
      await db.raw(`CREATE TRIGGER ${name} BEFORE ${o.on} ON ${o.table} FOR EACH ROW WHEN (${o.when}) EXECUTE FUNCTION ${name}()`);
    } else {
      await db.raw(`CREATE TRIGGER ${name} BEFORE ${o.on} ON ${o.table} FOR EACH ROW WHEN ${o.when} BEGIN SELECT RAISE(ABORT, '${literal}'); END`);
    }
  } finally {
    await db.destroy();
  }
  return {
    async clear() {
      const again: Knex = createDatabase({ url: t.config.database.url, dataDir: t.dataDir, schema: t.schema, poolMax: 1 });
      try {
        await again.raw(`DROP TRIGGER ${name}${again.client.config.client === 'pg' ? ` ON ${o.table}` : ''}`);
        if (again.client.config.client === 'pg') await again.raw(`DROP FUNCTION ${name}()`);
      } finally {
        await again.destroy();
      }
    },
  };
}
