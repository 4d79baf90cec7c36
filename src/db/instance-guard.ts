import type { Knex } from 'knex';
import { isPostgres } from './index.js';

/**
 * What a foreign key to `instances` did for the tables that have none (events, snapshots — see
 * migration 012): before a transaction writes rows of an instance, check once that it still
 * exists and hold it (PostgreSQL: FOR KEY SHARE, so a concurrent delete waits for the commit;
 * SQLite: the transaction is the one writer). Throws when it was deleted meanwhile.
 */
export class InstanceGoneError extends Error {
  constructor(readonly instanceId: number) {
    super(`instance ${instanceId} was deleted`);
  }
}

export async function holdInstance(trx: Knex, instanceId: number): Promise<void> {
  const query = trx('instances').where({ id: instanceId }).first('id');
  const row = await (isPostgres(trx) ? query.forKeyShare() : query);
  if (!row) throw new InstanceGoneError(instanceId);
}
