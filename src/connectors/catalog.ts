import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { ConflictError, ValidationError } from '../errors.js';
import type { ConnectorDefinition } from './schema.js';
import type { ConnectorRegistry } from './registry.js';
import type { ConnectorStore } from './store.js';

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

  /** Registers or replaces a custom connector for every node; true when it was new. */
  async save(input: unknown, source: string, o: { key?: string } = {}): Promise<{ def: ConnectorDefinition; created: boolean }> {
    const def = this.registry.validateCustom(input, { source });
    if (o.key !== undefined && def.key !== o.key)
      throw new ValidationError(`the body's key "${def.key}" is not the key of the path, "${o.key}"`, [{ field: 'key', value: def.key }]);
    const now = this.clock.now();
    const created = await this.store.save(def, now);
    await this.sync();
    return { def, created };
  }

  /** Removes a custom connector; refused while instances use it or when it is bundled. */
  async remove(key: string): Promise<void> {
    if (this.registry.isBundled(key)) throw new ConflictError(`connector "${key}" is bundled with pollgate and cannot be removed`);
    await this.store.remove(key);
    await this.sync();
  }
}
