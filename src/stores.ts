import type { Knex } from 'knex';
import type { SecretCipher } from './secrets/cipher.js';
import { InstanceStore } from './instances/store.js';
import { EventStore } from './events/store.js';
import { DeregistrationStore, ReceiptStore } from './webhooks/store.js';
import { WebhookRefreshStore } from './webhooks/refresh-store.js';
import { ScheduleStore } from './schedules/store.js';
import { RequestLogStore } from './requests/store.js';
import { PollStateStore } from './poller/store.js';
import { SnapshotStore } from './poller/snapshot-store.js';
import { TokenStore } from './auth/store.js';
import { ConnectorStore } from './connectors/store.js';
import { ConnectStore } from './connect/store.js';

/**
 * The stores, one per table group: the only code that writes SQL. Each owns its tables (their
 * writes, their retention). `transaction` is the unit of work: the stores it hands over are bound
 * to one transaction, so what a feature writes with them commits or rolls back together.
 */
export interface UnitOfWork {
  instances: InstanceStore;
  /** Events, notifications (the outbox) and delivery attempts. */
  events: EventStore;
  /** Webhook receipts (the ingress log). */
  receipts: ReceiptStore;
  /** Provider webhooks whose deregistration is retried. */
  deregistrations: DeregistrationStore;
  /** Provider webhooks that lapse unless refreshed. */
  refreshes: WebhookRefreshStore;
  schedules: ScheduleStore;
  /** The request-template invocation log. */
  requestLog: RequestLogStore;
  /** Poll state: each object type's schedule, claims and outcome. */
  pollState: PollStateStore;
  /** The last hash seen of each polled record (what a poll diffs against). */
  snapshots: SnapshotStore;
  /** Provider tokens (OAuth grants) of instances. */
  tokens: TokenStore;
  /** Custom connectors registered through the API. */
  connectors: ConnectorStore;
  /** Connect sessions (the hosted page where end users connect their accounts). */
  connectSessions: ConnectStore;
}

export interface Stores extends UnitOfWork {
  /** Runs `fn` in one transaction with stores bound to it; commits when it resolves. */
  transaction<T>(fn: (uow: UnitOfWork) => Promise<T>): Promise<T>;
}

// The transaction of a unit of work, for the one API still written against a knex transaction
// (the connector catalog's `hold` and replacement guard): see `connectionOf`.
const connections = new WeakMap<UnitOfWork, Knex>();

function bind(db: Knex, cipher: SecretCipher, secretsOf: (elementKey: string) => ReadonlySet<string>): UnitOfWork {
  const uow: UnitOfWork = {
    instances: new InstanceStore(db, cipher, secretsOf),
    events: new EventStore(db),
    receipts: new ReceiptStore(db),
    deregistrations: new DeregistrationStore(db),
    refreshes: new WebhookRefreshStore(db),
    schedules: new ScheduleStore(db),
    requestLog: new RequestLogStore(db),
    pollState: new PollStateStore(db),
    snapshots: new SnapshotStore(db),
    tokens: new TokenStore(db, cipher),
    connectors: new ConnectorStore(db),
    connectSessions: new ConnectStore(db, cipher),
  };
  connections.set(uow, db);
  return uow;
}

const binders = new WeakMap<Stores, (trx: Knex) => UnitOfWork>();

export function createStores(db: Knex, cipher: SecretCipher, secretsOf: (elementKey: string) => ReadonlySet<string>): Stores {
  const stores: Stores = {
    ...bind(db, cipher, secretsOf),
    transaction: (fn) => db.transaction((trx) => fn(bind(trx, cipher, secretsOf))),
  };
  binders.set(stores, (trx) => bind(trx, cipher, secretsOf));
  return stores;
}

/** Stores bound to a transaction the connector catalog opened (its replacement guard runs in it). */
export function storesIn(stores: Stores, trx: Knex): UnitOfWork {
  const binder = binders.get(stores);
  if (!binder) throw new Error('not stores of createStores');
  return binder(trx);
}

/** The transaction of a unit of work, for the connector catalog's `hold` (it takes a knex transaction). */
export function connectionOf(uow: UnitOfWork): Knex {
  const db = connections.get(uow);
  if (!db) throw new Error('not a unit of work of createStores');
  return db;
}
