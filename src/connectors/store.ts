import type { Knex } from 'knex';
import { isPostgres } from '../db/index.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { ConnectorDefinition } from './schema.js';

/**
 * The store of custom connectors (`connectors`) and of the one-row `connector_catalog.version`
 * that every write bumps, so other nodes see the change (catalog.ts syncs on it). Each write
 * bumps first: that takes the write lock (SQLite) or the version row's lock (PostgreSQL), so
 * catalog writes of all nodes take turns, and what they read next is current.
 *
 * Instances refer to a connector by key, with no foreign key (bundled connectors have no row):
 * an instance create holds the connector's row in its transaction (`hold`), and removing or
 * replacing the row waits for that transaction, then sees the instance.
 */
export class ConnectorStore {
  constructor(private readonly db: Knex) {}

  /** The catalog's version: it moves on every change. */
  async version(): Promise<number> {
    const row = (await this.db('connector_catalog').where({ id: 1 }).first('version')) as { version: number | string } | undefined;
    return Number(row?.version ?? 0);
  }

  /** Every stored definition, as stored (parsed JSON, not yet validated). */
  async definitions(): Promise<unknown[]> {
    const rows = (await this.db('connectors').select('definition')) as Array<{ definition: string }>;
    return rows.map((r) => JSON.parse(r.definition));
  }

  /** Stores a new definition; a key already stored is refused (409): replacing is `replace`. */
  create(def: ConnectorDefinition, now: number): Promise<void> {
    return this.db.transaction(async (trx) => {
      await bump(trx);
      if (await trx('connectors').where({ key: def.key }).first('key'))
        throw new ConflictError(`connector "${def.key}" already exists; PUT /elements/${def.key} replaces it`);
      await trx('connectors').insert({ key: def.key, definition: JSON.stringify(def), created_at: now, updated_at: now });
    });
  }

  /**
   * Stores or replaces a definition; true when it was new. `check` gets the stored definition
   * (parsed JSON, not validated) while its row is held: no instance of it is created meanwhile,
   * and throwing refuses the replacement.
   */
  replace(def: ConnectorDefinition, now: number, check: (trx: Knex, previous: unknown) => Promise<void>): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      await bump(trx);
      const query = trx('connectors').where({ key: def.key }).first('definition');
      const row = (await (isPostgres(trx) ? query.forUpdate() : query)) as { definition: string } | undefined;
      if (row) await check(trx, JSON.parse(row.definition));
      await trx('connectors')
        .insert({ key: def.key, definition: JSON.stringify(def), created_at: now, updated_at: now })
        .onConflict('key')
        .merge(['definition', 'updated_at']);
      return !row;
    });
  }

  /**
   * Holds a stored connector for the caller's transaction (an instance create): on PostgreSQL
   * FOR KEY SHARE, so its removal or replacement waits for the commit; on SQLite the transaction
   * is the one writer. False when it is not stored (anymore).
   */
  async hold(trx: Knex, key: string): Promise<boolean> {
    const query = trx('connectors').where({ key }).first('key');
    return (await (isPostgres(trx) ? query.forKeyShare() : query)) !== undefined;
  }

  /** Removes a definition and bumps the version; refused while instances use it. */
  remove(key: string): Promise<void> {
    return this.db.transaction(async (trx) => {
      await bump(trx);
      // The row first: that waits for an instance create holding it, whose instance the count then sees.
      const deleted = await trx('connectors').where({ key }).delete();
      if (deleted === 0) throw new NotFoundError(`unknown connector "${key}"`);
      const used = await trx('instances').where({ element_key: key }).count<{ n: number | string }[]>({ n: '*' });
      const n = Number(used[0].n);
      if (n > 0) throw new ConflictError(`connector "${key}" is used by ${n} instance(s); delete them first`);
    });
  }
}

function bump(trx: Knex.Transaction): Promise<number> {
  return trx('connector_catalog').where({ id: 1 }).increment('version', 1);
}
