import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Knex } from 'knex';
import { ApiError, ConflictError, ValidationError } from '../errors.js';
import type { ConnectorDefinition } from './schema.js';
import type { ConnectorRegistry } from './registry.js';
import type { ConnectorStore } from './store.js';

/** An instance whose secrets a connector replacement would send elsewhere, and to which destinations. */
export interface MovedSecrets {
  instanceId: number;
  destinations: string[];
}

/** Which instances of a connector a replacement moves (`previous` undefined: the stored one no longer validates). */
export type ReplacementGuard = (trx: Knex, previous: ConnectorDefinition | undefined, next: ConnectorDefinition) => Promise<MovedSecrets[]>;

/**
 * Custom connectors shared by every node through the database. Each write bumps the one-row
 * `connector_catalog.version`; `sync()` reads that number and reloads the stored connectors into
 * this node's registry only when it moved. The API syncs before every request and the loops before
 * their work, so a connector registered, replaced or removed on one node is what every node uses
 * from its next request on.
 */
export class ConnectorCatalog {
  private version = -1;
  private checkedAt = 0;
  private inFlight: Promise<void> | undefined;
  private readonly listeners: Array<() => void> = [];
  private replacementGuard: ReplacementGuard | undefined;

  constructor(
    private readonly store: ConnectorStore,
    readonly registry: ConnectorRegistry,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Called after another node's change was loaded (e.g. to drop caches built from connectors). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /**
   * Brings the registry up to date. `maxAgeMs` lets hot paths skip the check when one ran that
   * recently (wall clock); concurrent callers share one query.
   */
  async sync(o: { maxAgeMs?: number } = {}): Promise<void> {
    if (o.maxAgeMs !== undefined && Date.now() - this.checkedAt < o.maxAgeMs) return;
    this.inFlight ??= this.load().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async load(): Promise<void> {
    const version = await this.store.version();
    this.checkedAt = Date.now();
    if (version === this.version) return;
    this.registry.replaceCustom(await this.store.definitions(), (err) =>
      this.log.error({ err: err.message }, 'a stored custom connector is no longer valid; it is ignored'),
    );
    const first = this.version === -1;
    this.version = version;
    if (!first) for (const listener of this.listeners) listener();
  }

  /** Set by the instances: which of them a replacement of their connector would send secrets elsewhere. */
  guardReplacements(guard: ReplacementGuard): void {
    this.replacementGuard = guard;
  }

  /**
   * Registers a custom connector for every node (`replace: false`: a key already stored is a 409),
   * or creates or replaces the one of `key`; `created` says it was new. A replacement that moves
   * where the stored secrets of its instances are sent (another base URL, token URL, template
   * host…) is refused with 409 `SECRETS_WOULD_MOVE` naming them, unless `moveSecrets` says it is
   * meant (then logged).
   */
  async save(
    input: unknown,
    source: string,
    o: { key?: string; replace?: boolean; moveSecrets?: boolean } = {},
  ): Promise<{ def: ConnectorDefinition; created: boolean }> {
    const def = this.registry.validateCustom(input, { source });
    if (o.key !== undefined && def.key !== o.key)
      throw new ValidationError(`the body's key "${def.key}" is not the key of the path, "${o.key}"`, [{ field: 'key', value: def.key }]);
    const now = this.clock.now();
    let created = true;
    if (!o.replace) await this.store.create(def, now);
    else created = await this.store.replace(def, now, (trx, stored) => this.checkReplacement(trx, stored, def, o.moveSecrets === true));
    await this.sync();
    return { def, created };
  }

  private async checkReplacement(trx: Knex, stored: unknown, def: ConnectorDefinition, moveSecrets: boolean): Promise<void> {
    let previous: ConnectorDefinition | undefined;
    try {
      previous = this.registry.validate(stored, 'the database');
    } catch {
      // A stored definition that no longer validates: where its instances' secrets went is unknown.
    }
    const moved = (await this.replacementGuard?.(trx, previous, def)) ?? [];
    if (moved.length === 0) return;
    const ids = moved.map((m) => m.instanceId);
    if (!moveSecrets) {
      throw new ApiError(
        409,
        'SECRETS_WOULD_MOVE',
        `replacing connector "${def.key}" sends the stored secrets of ${moved.length} instance(s) (${ids.slice(0, 20).join(', ')}${ids.length > 20 ? ', …' : ''}) to another host; PUT with ?moveSecrets=true if that is meant`,
        // The first 100 (an answer naming 100,000 instances helps nobody); the message has the count.
        moved.slice(0, 100),
      );
    }
    const destinations = [...new Set(moved.flatMap((m) => m.destinations))];
    this.log.warn(
      { elementKey: def.key, instances: moved.length, instanceIds: ids.slice(0, 100), destinations },
      'connector replaced with moveSecrets: the stored secrets of its instances now go to the new destinations',
    );
  }

  /**
   * Holds the custom connector `key` in an instance create's transaction (after the insert): its
   * removal or replacement on any node waits for the commit and then sees the instance. Throws
   * 409 when it was removed since this node loaded it; bundled connectors are never removed.
   */
  async hold(trx: Knex, key: string): Promise<void> {
    if (this.registry.isBundled(key)) return;
    if (!(await this.store.hold(trx, key))) throw new ConflictError(`connector "${key}" was removed while the instance was being created`);
  }

  /** Removes a custom connector; refused while instances use it or when it is bundled. */
  async remove(key: string): Promise<void> {
    if (this.registry.isBundled(key)) throw new ConflictError(`connector "${key}" is bundled with pollgate and cannot be removed`);
    await this.store.remove(key);
    await this.sync();
  }
}
