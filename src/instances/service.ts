import { randomBytes } from 'node:crypto';
import type { Config } from '../config/index.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { ApiError, NotFoundError, ValidationError } from '../errors.js';
import { REDACTED } from '../secrets/redact.js';
import type { ConnectorRegistry } from '../connectors/registry.js';
import type { ConnectorCatalog } from '../connectors/catalog.js';
import type { ConnectorDefinition } from '../connectors/schema.js';
import { withCallbackParams } from '../connectors/callback-params.js';
import { readSettings, throwIfProblems, withKeyAliases, type InstanceSettings, type Problem } from './settings.js';
import type { Instance, InstanceStore } from './store.js';
import type { InstanceAuthorizer, InstanceChange, InstanceHooks, InstanceUnitOfWork } from './hooks.js';
import { CALLBACK_HEADERS, eventInfo, keepRedactedHeaders, nameProblem, readTags, validateConfiguration, withConnectorDefaults } from './validation.js';

/**
 * Creating, changing and removing instances. Validation collects every problem into one 400; the
 * write is one unit of work (the instance and what each feature's `onInstanceWrite` keeps of it,
 * the poll plan among them); provider-side steps (webhook registration) run after it, and a failed
 * registration removes the instance again. The features' parts come in as `hooks` (hooks.ts).
 */
export interface InstanceServiceDeps<U extends InstanceUnitOfWork> {
  store: InstanceStore;
  /** The unit of work: stores bound to one transaction. */
  transaction<T>(fn: (uow: U) => Promise<T>): Promise<T>;
  catalog: ConnectorCatalog;
  /** Holds a custom connector in a create's transaction, so its removal on another node waits and sees the instance. */
  holdConnector(uow: U, key: string): Promise<void>;
  config: Config;
  clock: Clock;
  log: Logger;
  hooks: InstanceHooks<U>[];
  authorizer?: InstanceAuthorizer<U>;
}

export const newWebhookToken = (): string => randomBytes(24).toString('base64url');

/** What the hot paths (polls, deliveries, ingress) need of an instance, computed once. */
export interface InstanceWork {
  instance: Instance;
  connector: ConnectorDefinition;
  settings: InstanceSettings;
  signingSecrets: Array<{ secret: string; createdAt: number; expiresAt: number | null }>;
}

// Hot-path lookups are cached this long (wall clock); this node's own writes invalidate at once,
// another node's take effect within it.
const WORK_CACHE_MS = 1000;

/**
 * Caches an entry for WORK_CACHE_MS. Entries stay in the order they were cached, so the expired
 * ones are dropped from the front: the cache holds the last second's lookups, not every instance
 * polled since (one node polling 100,000 instances a minute would keep ~5 KB for each).
 */
function remember<K, V extends { at: number }>(cache: Map<K, V>, key: K, entry: V): void {
  cache.delete(key);
  if (cache.size >= 50_000) cache.clear();
  cache.set(key, entry);
  for (const [k, e] of cache) {
    if (entry.at - e.at < WORK_CACHE_MS) break;
    cache.delete(k);
  }
}

export class InstanceService<U extends InstanceUnitOfWork = InstanceUnitOfWork> {
  readonly store: InstanceStore;
  private readonly catalog: ConnectorCatalog;
  private readonly config: Config;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly hooks: InstanceHooks<U>[];
  /** Checks and saves an OAuth grant with the instance (the connect page checks a form with it too). */
  readonly authorizer: InstanceAuthorizer<U> | undefined;
  private readonly work = new Map<number, { at: number; work: InstanceWork }>();
  private readonly tokens = new Map<string, { at: number; id: number | undefined }>();
  /** Reads of `work` entries under way, by instance id. */
  private readonly loading = new Map<number, Promise<InstanceWork>>();

  constructor(private readonly deps: InstanceServiceDeps<U>) {
    this.store = deps.store;
    this.catalog = deps.catalog;
    this.config = deps.config;
    this.clock = deps.clock;
    this.log = deps.log;
    this.hooks = deps.hooks;
    this.authorizer = deps.authorizer;
    // Another node changed a connector: cached views hold the old definition.
    this.catalog.onChange(() => {
      this.work.clear();
      this.loading.clear();
    });
  }

  /** The configuration's problems (the instances' own, then each feature's) into `problems`; the settings it reads as. */
  private validate(connector: ConnectorDefinition, configuration: Record<string, unknown>, problems: Problem[]): InstanceSettings {
    const authGivesBaseUrl = this.hooks.some((hook) => hook.givesBaseUrl?.(connector, configuration) === true);
    const settings = validateConfiguration(connector, configuration, this.config, problems, authGivesBaseUrl);
    for (const hook of this.hooks) hook.checkConfiguration?.({ connector, configuration, settings, problems });
    return settings;
  }

  /** Runs every hook's `onInstanceWrite` in the write's unit of work. */
  private async written(uow: U, id: number, createdAt: number, now: number, change: InstanceChange): Promise<void> {
    for (const hook of this.hooks) await hook.onInstanceWrite?.(uow, { id, createdAt, now, change });
  }

  private get connectors(): ConnectorRegistry {
    return this.catalog.registry;
  }

  async require(id: number): Promise<Instance> {
    const instance = await this.store.get(id);
    if (!instance) throw new NotFoundError(`instance ${id} does not exist`);
    return instance;
  }

  /** The instance with its connector, settings and signing secrets, cached briefly. */
  async forWork(id: number): Promise<InstanceWork> {
    // Connectors changed on another node: checked at most once a second on this hot path.
    await this.catalog.sync({ maxAgeMs: WORK_CACHE_MS });
    const hit = this.work.get(id);
    if (hit && Date.now() - hit.at < WORK_CACHE_MS) return hit.work;
    // One read for the callers that miss together (a batch of deliveries or receipts of one
    // instance), not one read and decryption each.
    let loading = this.loading.get(id);
    if (!loading) {
      const read: Promise<InstanceWork> = this.readWork(id)
        .then((work) => {
          // Not cached when the instance changed here while it was read.
          if (this.loading.get(id) === read) remember(this.work, id, { at: Date.now(), work });
          return work;
        })
        .finally(() => {
          if (this.loading.get(id) === read) this.loading.delete(id);
        });
      this.loading.set(id, (loading = read));
    }
    return loading;
  }

  private async readWork(id: number): Promise<InstanceWork> {
    const found = await this.store.getWithSecrets(id);
    if (!found) throw new NotFoundError(`instance ${id} does not exist`);
    return this.workOf(found);
  }

  /** What the loops need of a read instance; throws when its secrets or its connector are missing. */
  private workOf({ instance, signingSecrets }: { instance: Instance; signingSecrets: InstanceWork['signingSecrets'] }): InstanceWork {
    throwIfUnreadable(instance);
    return { instance, connector: this.connectorOf(instance), settings: this.settingsOf(instance), signingSecrets };
  }

  /**
   * Loads into the forWork cache, in one read, those of `ids` not cached: a batch of claimed polls
   * that start within about a second then each find theirs there. An instance that cannot be read
   * is left for forWork to report.
   */
  async preloadForWork(ids: number[]): Promise<void> {
    const now = Date.now();
    const missing = [...new Set(ids)].filter((id) => {
      const hit = this.work.get(id);
      return !hit || now - hit.at >= WORK_CACHE_MS;
    });
    if (missing.length < 2) return;
    await this.catalog.sync({ maxAgeMs: WORK_CACHE_MS });
    for (const found of await this.store.getManyWithSecrets(missing)) {
      let work: InstanceWork;
      try {
        work = this.workOf(found);
      } catch {
        continue;
      }
      remember(this.work, found.instance.id, { at: Date.now(), work });
    }
  }

  /**
   * Webhook ingress: the instance behind a token, cached briefly (unknown tokens too); undefined
   * when there is none (or it went, or its connector did). Anything else — the database away, the
   * instance's secrets unreadable — throws: the endpoint exists, and its caller must not be told
   * otherwise.
   */
  async forWebhookToken(token: string): Promise<InstanceWork | undefined> {
    let hit = this.tokens.get(token);
    if (!hit || Date.now() - hit.at >= WORK_CACHE_MS) {
      hit = { at: Date.now(), id: (await this.store.getByWebhookToken(token))?.id };
      remember(this.tokens, token, hit);
    }
    if (hit.id === undefined) return undefined;
    try {
      return await this.forWork(hit.id);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  /** Drops cached views of an instance after this node changed it. */
  invalidate(id: number): void {
    this.work.delete(id);
    this.loading.delete(id);
  }

  connectorOf(instance: Pick<Instance, 'elementKey'>): ConnectorDefinition {
    const def = this.connectors.get(instance.elementKey);
    if (!def) throw new NotFoundError(`the connector "${instance.elementKey}" of this instance is no longer registered`);
    return def;
  }

  settingsOf(instance: Instance): InstanceSettings {
    const problems: Problem[] = [];
    return readSettings(instance.configuration, eventInfo(this.connectorOf(instance)), this.config.poller, problems);
  }

  async create(body: Record<string, unknown>): Promise<Instance> {
    const problems: Problem[] = [];
    const element = body.element as { key?: unknown } | undefined;
    const key = typeof element === 'object' && element !== null ? element.key : undefined;
    if (typeof key !== 'string' || key === '') throw new ValidationError('element.key is required: the key of the connector', [{ field: 'element.key' }]);
    const connector = this.connectors.get(key);
    if (!connector) throw new ValidationError(`unknown connector "${key}"`, [{ field: 'element.key', value: key }]);
    const name = body.name === undefined ? `${connector.name} instance` : body.name;
    const nameRefused = nameProblem(name);
    if (nameRefused) problems.push({ field: 'name', message: nameRefused });
    const tags = readTags(body.tags, problems);
    const configuration = body.configuration;
    if (typeof configuration !== 'object' || configuration === null || Array.isArray(configuration)) {
      throw new ValidationError('configuration is required and must be an object', [{ field: 'configuration' }]);
    }
    // Values the provider added to the OAuth redirect (Intuit's realmId), handed on in providerData.
    const given = withKeyAliases(configuration as Record<string, unknown>, problems);
    const complete = withConnectorDefaults(connector, withCallbackParams(connector, given, body.providerData));
    const settings = this.validate(connector, complete, problems);
    const authenticates = this.authorizer?.check(connector, complete, body.providerData, problems, undefined) ?? false;
    throwIfProblems(problems);
    // The provider's grant first: a refused exchange leaves nothing behind.
    const grant = authenticates ? await this.authorizer!.obtain(connector, complete, body.providerData) : undefined;

    const now = this.clock.now();
    const id = await this.deps.transaction(async (uow) => {
      const newId = await uow.instances.insert(
        {
          elementKey: key,
          name: name as string,
          tags,
          configuration: this.authorizer?.withoutTokens(complete) ?? complete,
          vendorType: settings.vendorType,
          eventsEnabled: true,
          callbackDisabled: false,
          webhookToken: settings.vendorType === 'webhook' ? newWebhookToken() : null,
        },
        now,
      );
      // After the insert (SQLite: the write lock is then this transaction's): a removal of the
      // connector on another node either waits for this commit and sees the instance, or went first.
      await this.deps.holdConnector(uow, key);
      if (grant !== undefined) await this.authorizer!.save(uow, newId, grant, now);
      await this.written(uow, newId, now, now, { kind: 'created', settings });
      return newId;
    });
    const instance = (await this.store.get(id))!;
    try {
      for (const hook of this.hooks) await hook.afterInstanceCreate?.(instance, connector);
    } catch (err) {
      await this.remove(id);
      throw err;
    }
    // A hook may have completed the instance (webhook ids, looked-up values).
    this.invalidate(id);
    this.log.info({ instanceId: id, elementKey: key, vendorType: settings.vendorType }, 'instance created');
    return (await this.store.get(id))!;
  }

  /** PATCH: merges `configuration` key by key; name and tags replace. Re-plans polling at once. */
  async update(id: number, body: Record<string, unknown>): Promise<Instance> {
    const current = await this.require(id);
    const connector = this.connectorOf(current);
    const problems: Problem[] = [];
    let name: string | undefined;
    if (body.name !== undefined) {
      const nameRefused = nameProblem(body.name);
      if (nameRefused) problems.push({ field: 'name', message: nameRefused });
      else name = body.name as string;
    }
    const tags = body.tags === undefined ? undefined : readTags(body.tags, problems);
    let configuration = current.configuration;
    if (body.configuration !== undefined) {
      if (typeof body.configuration !== 'object' || body.configuration === null || Array.isArray(body.configuration)) {
        throw new ValidationError('configuration must be an object', [{ field: 'configuration' }]);
      }
      configuration = { ...current.configuration };
      const supplied = withKeyAliases(body.configuration as Record<string, unknown>, problems);
      // A secret no key decrypts is gone unless the PATCH gives it again (keeping "********" cannot).
      for (const key of current.unreadableSecrets) {
        const value = key.startsWith(`${CALLBACK_HEADERS}.`)
          ? (supplied[CALLBACK_HEADERS] as Record<string, unknown> | undefined)?.[key.slice(CALLBACK_HEADERS.length + 1)]
          : supplied[key];
        if (value === undefined || value === REDACTED)
          problems.push({ field: `configuration.${key}`, message: 'cannot be decrypted with the configured keys: supply it again' });
      }
      for (const [k, v] of Object.entries(supplied)) {
        // "********" is what answers show for secrets: sending it back keeps the stored value.
        if (v === REDACTED) continue;
        if (v === null) delete configuration[k];
        else configuration[k] = k === CALLBACK_HEADERS ? keepRedactedHeaders(v, current.configuration[k]) : v;
      }
      const change = { connector, secrets: this.store.secretsOf(connector.key), before: current.configuration, after: configuration, supplied, problems };
      for (const hook of this.hooks) hook.checkChange?.(change);
    }
    // A new grant's redirect values (the company picked again) replace the stored ones, unless the PATCH sets them.
    configuration = withCallbackParams(connector, configuration, body.providerData, (body.configuration ?? {}) as Record<string, unknown>);
    const settings = this.validate(connector, configuration, problems);
    if (settings.vendorType !== current.vendorType)
      problems.push({ field: 'event.vendor.type', message: 'cannot change after creation; create a new instance' });
    const supplied = (body.configuration ?? {}) as Record<string, unknown>;
    const authenticates = this.authorizer?.check(connector, configuration, body.providerData, problems, supplied, current.configuration) ?? false;
    throwIfProblems(problems);
    const grant = authenticates ? await this.authorizer!.obtain(connector, configuration, body.providerData) : undefined;
    if (this.authorizer) configuration = this.authorizer.withoutTokens(configuration);
    const before = this.settingsOf(current);
    const now = this.clock.now();
    this.invalidate(id);
    await this.deps.transaction(async (uow) => {
      await uow.instances.update(id, { elementKey: current.elementKey, name, tags, configuration }, now);
      if (grant !== undefined) await this.authorizer!.save(uow, id, grant, now);
      await this.written(uow, id, current.createdAt, now, { kind: 'updated', settings, previous: before });
    });
    return (await this.store.get(id))!;
  }

  async delete(id: number): Promise<void> {
    const instance = await this.require(id);
    const connector = this.connectors.get(instance.elementKey);
    if (connector) for (const hook of this.hooks) await hook.beforeInstanceDelete?.(instance, connector);
    await this.remove(id);
    this.log.info({ instanceId: id }, 'instance deleted');
  }

  /** Deletes the instance row, then (in the same unit of work) what each feature keeps of it. */
  private async remove(id: number): Promise<void> {
    await this.deps.transaction(async (uow) => {
      // The instance row first: that waits for writes holding it (db/instance-guard.ts) to commit,
      // so the features' deletes see their rows, and makes later ones find it gone.
      await uow.instances.delete(id);
      for (const hook of this.hooks) await hook.onInstanceDelete?.(uow, id);
    });
    this.invalidate(id);
  }

  /** Pause or resume: polling stops and notifications are held (nothing is dropped) while paused. */
  async setEnabled(id: number, enabled: boolean): Promise<Instance> {
    const instance = await this.require(id);
    const now = this.clock.now();
    this.invalidate(id);
    await this.deps.transaction(async (uow) => {
      // Re-enabling also lifts a 410 Gone hold on the callback.
      await uow.instances.update(id, { elementKey: instance.elementKey, eventsEnabled: enabled, ...(enabled ? { callbackDisabled: false } : {}) }, now);
      await this.written(uow, id, instance.createdAt, now, { kind: enabled ? 'enabled' : 'disabled' });
    });
    return (await this.store.get(id))!;
  }
}

/** Work with an instance whose secrets cannot be read fails for that instance alone, saying why. */
function throwIfUnreadable(instance: Instance): void {
  if (instance.unreadableSecrets.length === 0) return;
  throw new ApiError(
    409,
    'SECRETS_UNREADABLE',
    `instance ${instance.id}: ${instance.unreadableSecrets.join(', ')} cannot be decrypted with the configured keys; restore the key (security.previousSecretKeys) or PATCH the values again`,
    instance.unreadableSecrets.map((field) => ({ field: `configuration.${field}` })),
  );
}
