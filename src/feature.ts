import type { Config } from './config/index.js';
import type { Clock } from './clock.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { RouteModule } from './api/app.js';
import type { WakeUps } from './lib/wake-ups.js';
import type { Outbound } from './network/outbound.js';
import type { ConnectorRegistry } from './connectors/registry.js';
import type { ConnectorCatalog } from './connectors/catalog.js';
import type { InstanceService } from './instances/service.js';
import type { ProviderCalls } from './provider/calls.js';
import type { Stores, UnitOfWork } from './stores.js';

export type { Stores, UnitOfWork };

/*
 * The contract between the features and the gateway that composes them (docs/layers.md): types
 * only, no code. A feature imports these types and nothing else from here; it declares which part
 * of the context it needs (`Pick<GatewayContext, …>` in its own folder, Unleash's style), and
 * main.ts, the composition, hands the gateway's one context to each feature's factory.
 */

/**
 * What every part of the gateway is built from; main.ts makes one per gateway. Features reach the
 * database only through `stores` (no raw connection, no cipher: the stores encrypt and decrypt).
 */
export interface GatewayContext {
  config: Config;
  log: Logger;
  clock: Clock;
  nodeId: string;
  metrics: Metrics;
  connectors: ConnectorRegistry;
  /** Keeps `connectors` in step with the custom connectors other nodes register. */
  catalog: ConnectorCatalog;
  instances: InstanceService<UnitOfWork>;
  stores: Stores;
  /** The one way to send a request to a provider (auth and other per-attempt hooks included). */
  providerCalls: ProviderCalls;
  /** Which configuration keys of a connector are secrets. */
  secretsOf(elementKey: string): ReadonlySet<string>;
  /** The one way out to the network (keep-alive pools, SSRF guard); its state is this gateway's. */
  outbound: Outbound;
  /** Committed work wakes the stage that takes it (here at once; other nodes by NOTIFY on PostgreSQL). */
  wakeUps: WakeUps;
  /** Real waits (retry delays) go through this so tests can replace them. */
  sleep(ms: number): Promise<void>;
}

/**
 * The stores a feature names (`K`), and transactions that hand out those, bound to the
 * transaction: what a feature's context.ts asks for instead of all of `Stores`.
 */
export type StoresOf<K extends keyof UnitOfWork> = Pick<UnitOfWork, K> & {
  transaction<T>(fn: (uow: Pick<UnitOfWork, K>) => Promise<T>): Promise<T>;
};

/**
 * A part of the flow as main.ts sees it: routes to mount and a background loop to run. Every
 * method is optional and `start`/`stop` must be safe to call twice.
 */
export interface Feature {
  name: string;
  apiRoutes?: RouteModule[];
  openRoutes?: RouteModule[];
  start?(): void;
  /** Stop claiming new work; finish or give back what is held within `graceMs`. */
  stop?(graceMs: number): Promise<void>;
}
