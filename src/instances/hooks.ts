import type { ConnectorDefinition } from '../connectors/schema.js';
import type { InstanceSettings, Problem } from './settings.js';
import type { Instance, InstanceStore } from './store.js';

/**
 * What the features register with the instances service (it imports none of them): each hook is
 * given, at construction, the part of an instance's life its feature owns — the poller plans its
 * objects, delivery mints the signing secret, auth obtains and saves grants, webhooks register with
 * the provider, request templates run the connector's lookups.
 */

/** The stores an instance write runs with, bound to its transaction; each hook takes its own from it. */
export interface InstanceUnitOfWork {
  instances: InstanceStore;
}

/** What an instance write changed (the hooks' `onInstanceWrite` runs in its transaction). */
export type InstanceChange =
  | { kind: 'created'; settings: InstanceSettings }
  /** `previous`: the settings before the PATCH. */
  | { kind: 'updated'; settings: InstanceSettings; previous: InstanceSettings }
  | { kind: 'enabled' }
  | { kind: 'disabled' };

export interface InstanceWrite {
  id: number;
  createdAt: number;
  now: number;
  change: InstanceChange;
}

/** A create's or PATCH's configuration, read (its settings), for a feature to add its problems. */
export interface ConfigurationCheck {
  connector: ConnectorDefinition;
  configuration: Record<string, unknown>;
  settings: InstanceSettings;
  problems: Problem[];
}

/** A PATCH of the configuration: before and after, what it gave, and which keys are secrets. */
export interface ConfigurationChange {
  connector: ConnectorDefinition;
  secrets: ReadonlySet<string>;
  before: Record<string, unknown>;
  after: Record<string, unknown>;
  supplied: Record<string, unknown>;
  problems: Problem[];
}

export interface InstanceHooks<U extends InstanceUnitOfWork = InstanceUnitOfWork> {
  /** Create and PATCH: the feature's problems with the configuration (nothing is stored while there are any). */
  checkConfiguration?(check: ConfigurationCheck): void;
  /** Whether the connector's auth, as configured, brings the provider's API base with its token (then the keys the connector's base URL is built from are not required). */
  givesBaseUrl?(connector: ConnectorDefinition, configuration: Record<string, unknown>): boolean;
  /** PATCH: the feature's problems with the change (a secret it sends elsewhere must be given again). */
  checkChange?(change: ConfigurationChange): void;
  /** In the write's transaction, after the instance row is written: what the feature keeps of it. */
  onInstanceWrite?(uow: U, write: InstanceWrite): Promise<void>;
  /** After a create committed (provider-side steps); throwing undoes the create (the instance is deleted). */
  afterInstanceCreate?(instance: Instance, connector: ConnectorDefinition): Promise<void>;
  /** Before an instance is deleted, outside any transaction (provider-side steps, e.g. deregister webhooks). */
  beforeInstanceDelete?(instance: Instance, connector: ConnectorDefinition): Promise<void>;
  /** In the delete's transaction, after the instance row is gone: the feature's rows of it without a foreign key. */
  onInstanceDelete?(uow: U, instanceId: number): Promise<void>;
}

/**
 * The provider-auth steps of create and PATCH (src/auth): `check` adds problems and says whether
 * this request (re-)authenticates; `obtain` gets tokens before anything is stored (throwing the
 * provider's refusal); `save` stores them in the instance's unit of work.
 */
export interface InstanceAuthorizer<U extends InstanceUnitOfWork = InstanceUnitOfWork, Grant = unknown> {
  /** `previous`: the configuration before a PATCH (a change of auth alternative needs new credentials). */
  check(
    connector: ConnectorDefinition,
    configuration: Record<string, unknown>,
    providerData: unknown,
    problems: Problem[],
    supplied: Record<string, unknown> | undefined,
    previous?: Record<string, unknown>,
  ): boolean;
  obtain(connector: ConnectorDefinition, configuration: Record<string, unknown>, providerData: unknown): Promise<Grant>;
  /** The configuration without keys that hand tokens over (they live in the token store). */
  withoutTokens(configuration: Record<string, unknown>): Record<string, unknown>;
  save(uow: U, instanceId: number, grant: Grant, now: number): Promise<void>;
}
