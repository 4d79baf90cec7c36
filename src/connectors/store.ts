import type { Knex } from 'knex';
import { ConflictError, NotFoundError } from '../errors.js';
import type { ConnectorDefinition } from './schema.js';

/**
 * The store of custom connectors (`connectors`) and of the one-row `connector_catalog.version`
 * that every write bumps, so other nodes see the change (catalog.ts syncs on it).
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

  /** Stores or replaces a definition and bumps the version; true when it was new. */
  save(def: ConnectorDefinition, now: number): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      const existed = await trx('connectors').where({ key: def.key }).first('key');
      await trx('connectors')
        .insert({ key: def.key, definition: JSON.stringify(def), created_at: now, updated_at: now })
        .onConflict('key')
        .merge(['definition', 'updated_at']);
      await bump(trx);
      return !existed;
    });
  }

  /** Removes a definition and bumps the version; refused while instances use it. */
  remove(key: string): Promise<void> {
    return this.db.transaction(async (trx) => {
      const used = await trx('instances').where({ element_key: key }).count<{ n: number | string }[]>({ n: '*' });
      const n = Number(used[0].n);
      if (n > 0) throw new ConflictError(`connector "${key}" is used by ${n} instance(s); delete them first`);
      const deleted = await trx('connectors').where({ key }).delete();
      if (deleted === 0) throw new NotFoundError(`unknown connector "${key}"`);
      await bump(trx);
    });
  }
}

function bump(trx: Knex.Transaction): Promise<number> {
  return trx('connector_catalog').where({ id: 1 }).increment('version', 1);
}
