import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { Knex } from 'knex';
import { loadConfig, bundledConnectorsDir, type Config } from './config/index.js';
import { systemClock, type Clock } from './clock.js';
import { createLogger, type Logger } from './log.js';
import { createDatabase, isReady, migrate } from './db/index.js';
import { WakeUps } from './lib/wake-ups.js';
import { Outbound } from './network/outbound.js';
import { createApp } from './api/app.js';
import { opsRoutes } from './api/ops-routes.js';
import { guardConnections } from './api/connection-guard.js';
import { consoleRoutes } from './console/routes.js';
import { createMetrics, type Metrics } from './metrics.js';
import type { Feature, GatewayContext } from './feature.js';
import { connectionOf, createStores, storesIn, type UnitOfWork } from './stores.js';
import { SecretCipher } from './secrets/cipher.js';
import { checkKeysReadData } from './secrets/stored.js';
import { connectorSections } from './connector-sections.js';
import { ConnectorRegistry } from './connectors/registry.js';
import { connectorRoutes } from './connectors/routes.js';
import { draftRoutes } from './drafts/routes.js';
import { ConnectorCatalog } from './connectors/catalog.js';
import { InstanceService } from './instances/service.js';
import { instanceRoutes } from './instances/routes.js';
import { eventRoutes } from './events/routes.js';
import type { Poller } from './poller/poller.js';
import { createPollerFeature, type PollerFeature } from './poller/feature.js';
import { createWebhookFeature, type WebhookFeature } from './webhooks/feature.js';
import { createDeliveryFeature, type DeliveryFeature } from './delivery/feature.js';
import { createRequestsFeature } from './requests/feature.js';
import { createScheduleFeature, type ScheduleFeature } from './schedules/feature.js';
import { refreshStatus } from './webhooks/refresh.js';
import { RateBudgets } from './provider/rate-budget.js';
import { createBudgetStore } from './provider/budget-store.js';
import { ProviderCalls, WITHOUT_AUTH } from './provider/calls.js';
import { secretsMovedByReplacement } from './auth/replacements.js';
import { authInstanceHooks } from './auth/instance-hooks.js';
import { eventInstanceHooks } from './instances/event-hooks.js';
import { deliveryInstanceHooks } from './delivery/instance-hooks.js';
import { pollerInstanceHooks } from './poller/instance-hooks.js';
import { webhookInstanceHooks } from './webhooks/registration.js';
import { lookupInstanceHooks } from './requests/lookups.js';
import { createTemplateInvoker, type TemplateInvoker } from './requests/invoke.js';
import { ProviderAuth, authStatus } from './auth/provider-auth.js';
import { InstanceGrants } from './auth/grants.js';
import { oauthRoutes } from './auth/routes.js';
import { createRetentionFeature, type RetentionFeature } from './maintenance/feature.js';
import { createCheckFeature } from './check/feature.js';
import { connectFeature, type ConnectFeature } from './connect/feature.js';
import { authorizationStarter } from './auth/connect-authorization.js';
import { activityRoutes } from './console/activity.js';

/**
 * Wires the parts into one gateway. `Gateway.create` opens and migrates the database and loads the
 * connectors; `listen` serves the API; `start` runs the background loops; `stop` undoes all of it
 * (each safe to call twice). Tests create gateways in-process with their own config and clock.
 */
export interface GatewayOptions {
  config?: Config;
  clock?: Clock;
  log?: Logger;
  /** PostgreSQL schema (tests give each run its own). */
  schema?: string;
  /** Replaces real waits (retry delays, Retry-After) in tests. */
  sleep?: (ms: number) => Promise<void>;
  connectorsDir?: string;
  /** The gateway's metrics (a fresh set when not given): a process that embeds it may read them as they are observed. */
  metrics?: Metrics;
}

const VERSION = '0.1.0';

/** The features tests, benchmarks and tools reach into, as typed properties of the gateway. */
interface TypedFeatures {
  poller: PollerFeature;
  delivery: DeliveryFeature;
  webhooks: WebhookFeature;
  schedules: ScheduleFeature;
  retention: RetentionFeature;
  connect: ConnectFeature;
}

export class Gateway {
  private server: Server | undefined;
  private started = false;
  private stopped = false;

  private constructor(
    readonly ctx: GatewayContext,
    /** The database connection (tests and tools read tables through it; features use `ctx.stores`). */
    readonly db: Knex,
    readonly apiToken: string,
    readonly features: Feature[],
    typed: TypedFeatures,
  ) {
    this.poller = typed.poller.poller;
    this.delivery = typed.delivery;
    this.webhooks = typed.webhooks;
    this.schedules = typed.schedules;
    this.retention = typed.retention;
    this.connect = typed.connect;
  }

  /** The scheduler of polls (`gateway.poller.pollNow`, `tick`). */
  readonly poller: Poller;
  /** The dispatcher and its routes: `gateway.delivery.dispatcher`. */
  readonly delivery: DeliveryFeature;
  /** Ingress, registration and the webhook processor: `gateway.webhooks.processor`. */
  readonly webhooks: WebhookFeature;
  /** The schedules API and its scheduler: `gateway.schedules.scheduler`. */
  readonly schedules: ScheduleFeature;
  /** The retention job: `gateway.retention.prune()`. */
  readonly retention: RetentionFeature;
  /** Connect sessions and the loop that reports abandoned ones: `gateway.connect.expiry.tick()`. */
  readonly connect: ConnectFeature;

  get config(): Config {
    return this.ctx.config;
  }
  get log(): Logger {
    return this.ctx.log;
  }
  get nodeId(): string {
    return this.ctx.nodeId;
  }
  get connectors(): ConnectorRegistry {
    return this.ctx.connectors;
  }
  get instances(): InstanceService {
    return this.ctx.instances;
  }
  static async create(options: GatewayOptions = {}): Promise<Gateway> {
    const config = options.config ?? loadConfig();
    const nodeId = config.node.id ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    const log = options.log ?? createLogger({ level: config.log.level, nodeId });
    const clock = options.clock ?? systemClock;
    const schema = options.schema ?? config.database.schema ?? undefined;
    secureDataDir(config.database.dataDir);
    const db = createDatabase({
      url: config.database.url,
      dataDir: config.database.dataDir,
      poolMax: config.database.poolMax,
      schema,
      busyTimeoutMs: config.database.busyTimeoutMs,
      log,
    });
    try {
      await migrate(db, schema);
      const connectors = await ConnectorRegistry.loadDirectory(options.connectorsDir ?? bundledConnectorsDir, connectorSections);
      const cipher = SecretCipher.fromConfig(config.security.secretKey, config.database.dataDir, config.security.previousSecretKeys);
      const secretsOf = (key: string): ReadonlySet<string> => new Set((connectors.get(key)?.configuration ?? []).filter((f) => f.secret).map((f) => f.key));
      const stores = createStores(db, cipher, secretsOf);
      const catalog = new ConnectorCatalog(stores.connectors, connectors, clock, log);
      await catalog.sync();
      await checkKeysReadData(db, cipher);
      await stores.instances.hashLegacyWebhookTokens();
      // A connector replacement is checked against its instances in the replacement's transaction.
      catalog.guardReplacements((trx, previous, next) => secretsMovedByReplacement(storesIn(stores, trx).instances, previous, next));
      const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref()));
      const metrics = options.metrics ?? createMetrics();
      const rateBudgets = new RateBudgets(createBudgetStore(db), config, clock, sleep, log);
      // Sockets kept per callback origin: no more than the sends allowed to one origin at once.
      const outbound = new Outbound({ provider: 64, callback: config.delivery.maxConcurrencyPerOrigin });
      // Token endpoints are called without the connector's auth; every other call with it.
      const tokenCalls = new ProviderCalls(config, sleep, WITHOUT_AUTH, outbound, [rateBudgets.hooks]);
      const providerAuth = new ProviderAuth(tokenCalls, stores.tokens, clock, nodeId, log, metrics, config.provider.tokenTimeoutSeconds * 1000);
      const providerCalls = new ProviderCalls(config, sleep, providerAuth, outbound, [rateBudgets.hooks]);
      const wakeUps = new WakeUps({ db, url: config.database.url, schema, nodeId, log });
      const base = { config, log, clock, nodeId, metrics, connectors, catalog, stores, providerCalls, secretsOf, sleep, wakeUps, outbound };
      // The lookups' invoker reads instances through the service the lookups are a hook of: bound when first called.
      const invokeTemplate: TemplateInvoker = (...args) => templateInvoker(...args);
      const instances = new InstanceService<UnitOfWork>({
        store: stores.instances,
        transaction: (fn) => stores.transaction(fn),
        catalog,
        holdConnector: (uow, key) => catalog.hold(connectionOf(uow), key),
        config,
        clock,
        log,
        authorizer: new InstanceGrants(providerAuth),
        hooks: [
          authInstanceHooks(),
          eventInstanceHooks(),
          deliveryInstanceHooks(),
          pollerInstanceHooks(config),
          webhookInstanceHooks(base),
          lookupInstanceHooks(base, invokeTemplate),
        ],
      });
      const ctx: GatewayContext = { ...base, instances };
      const apiToken = resolveApiToken(config, log);
      const templateInvoker = createTemplateInvoker(ctx, stores.requestLog);
      // Each feature is built from what it needs; what one shows of another comes in as a function.
      const delivery = createDeliveryFeature(ctx);
      const poller = createPollerFeature({
        ...ctx,
        authStatusOf: (instance) => authStatus(providerAuth, instance.id, instances.connectorOf(instance), instance.configuration, clock.now()),
        rateLimitOf: (instance) =>
          rateBudgets.status({ connector: instances.connectorOf(instance), configuration: instance.configuration, instanceId: instance.id }),
        deliveryOf: (instance) => delivery.dispatcher.originStatus(instance),
        webhooksOf: (instance) => refreshStatus(ctx, instance.id),
      });
      const typed: TypedFeatures = {
        poller,
        webhooks: createWebhookFeature(ctx),
        delivery,
        schedules: createScheduleFeature(ctx),
        retention: createRetentionFeature(ctx),
        connect: connectFeature(ctx, stores.connectSessions, apiToken, {
          authorization: authorizationStarter(providerAuth),
          pollAllNow: (instanceId, now) => stores.pollState.pollAllNow(instanceId, now),
        }),
      };
      // In the order their loops start (and the reverse of how they stop).
      const features: Feature[] = [
        { name: 'wake-ups', start: () => wakeUps.start(), stop: () => wakeUps.stop() },
        {
          name: 'core',
          openRoutes: [opsRoutes({ database: { isReady: () => isReady(db) }, metrics, nodeId, version: VERSION, log }), consoleRoutes()],
          apiRoutes: [
            connectorRoutes(catalog, config.server.maxBodyBytes),
            oauthRoutes({ connectors, providerAuth }),
            instanceRoutes(ctx),
            eventRoutes(ctx),
            activityRoutes(stores.events, clock, (id) => instances.require(id)),
          ],
        },
        { name: 'drafts', apiRoutes: [draftRoutes((input, source) => catalog.registry.validate(input, source))] },
        typed.poller,
        typed.webhooks,
        typed.delivery,
        createRequestsFeature(ctx),
        typed.schedules,
        typed.retention,
        createCheckFeature({ ...ctx, grantedScopeOf: async (id) => (await stores.tokens.get(id, clock.now()))?.tokens }),
        typed.connect,
        // FEATURES: further parts of the flow are added here.
      ];
      return new Gateway(ctx, db, apiToken, features, typed);
    } catch (err) {
      await db.destroy();
      throw err;
    }
  }

  /** Serves the API; port 0 lets the OS choose (tests). Resolves to the base URL. */
  async listen(port = this.config.server.port, host = this.config.server.host): Promise<string> {
    if (this.server) return this.url;
    const app = createApp({
      log: this.log,
      apiToken: this.apiToken,
      api: this.features.flatMap((f) => f.apiRoutes ?? []),
      open: this.features.flatMap((f) => f.openRoutes ?? []),
      metricsPublic: this.config.metrics.public,
      metrics: this.ctx.metrics,
    });
    const limits = this.config.server;
    // Slow-header floods: headers must arrive within headersTimeoutSeconds (busyHeadersTimeoutSeconds
    // while busy: guardConnections), the whole request within requestTimeoutSeconds; connections are
    // capped in all and per client. Checked every second, or twice per timeout when it is shorter.
    const shortest = Math.min(limits.headersTimeoutSeconds, limits.busyHeadersTimeoutSeconds);
    const checkMs = Math.min(1000, Math.max(10, shortest * 500));
    const server = createServer(
      { headersTimeout: limits.headersTimeoutSeconds * 1000, requestTimeout: limits.requestTimeoutSeconds * 1000, connectionsCheckingInterval: checkMs },
      app.callback(),
    );
    guardConnections(server, limits, this.ctx.metrics);
    server.listen(port, host);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    return this.url;
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | null;
    if (!address) throw new Error('the gateway is not listening');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address === '0.0.0.0' ? '127.0.0.1' : address.address;
    return `http://${host}:${address.port}`;
  }

  /** Starts the background loops that config enables. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const f of this.features) f.start?.();
  }

  /** Stops claiming work, drains within the grace period, closes the server and the database. */
  async stop(graceMs = 0): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // Stop taking requests first, then let the loops drain, then close the database.
    const server = this.server;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    await Promise.all([...this.features].reverse().map((f) => f.stop?.(graceMs)));
    server?.closeAllConnections();
    await closed;
    await this.ctx.outbound.close();
    await this.db.destroy();
  }
}

/** The data folder holds the API token, the generated key and the SQLite file: its owner's alone. */
function secureDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/**
 * The admin token: POLLGATE_API_TOKEN, or one generated on first start, kept in the data folder
 * (mode 0600) and printed that once so the README tour works.
 */
function resolveApiToken(config: Config, log: Logger): string {
  if (config.auth.apiToken) return config.auth.apiToken;
  const file = join(config.database.dataDir, 'api-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(config.database.dataDir, { recursive: true });
  const token = `pg_${randomBytes(24).toString('base64url')}`;
  writeFileSync(file, token, { mode: 0o600, flag: 'wx' });
  log.info(`generated an API token and saved it to ${file}`);
  process.stdout.write(`\npollgate API token (saved in ${file}): ${token}\n\n`);
  return token;
}
