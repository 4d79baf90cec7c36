import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Knex } from 'knex';
import { backoffMs } from './backoff.js';
import type { Logger } from '../log.js';
import { isPostgres } from '../db/index.js';

/**
 * Wakes the next stage of the flow when work for it is committed, instead of leaving it to the
 * stage's next tick: a stored webhook receipt wakes the webhook processor, committed notifications
 * wake the dispatcher. In this process the stage's loop is kicked at once; on PostgreSQL every
 * other node is told with NOTIFY on one channel per kind of work (`pollgate_<schema>_webhooks`,
 * `pollgate_<schema>_delivery`), heard on a connection of its own that LISTENs (and reconnects
 * when it is lost). The NOTIFYs asked for during one turn of the event loop go out together as
 * one statement, so a committed batch costs one NOTIFY, not one per row.
 *
 * A wake-up is a hint: the loop it kicks claims what is due by the database, so a lost NOTIFY
 * only means the work waits for the tick (which stays as the safety net), and a notification due
 * for a retry later is still not claimed before its time.
 */
export type WorkKind = 'webhooks' | 'delivery';
const KINDS: readonly WorkKind[] = ['webhooks', 'delivery'];
/** PostgreSQL's longest identifier (NAMEDATALEN − 1): a longer channel name is refused. */
const MAX_CHANNEL = 63;

export interface WakeUpsOptions {
  db: Knex;
  /** The PostgreSQL URL the LISTEN connection opens (null or SQLite: this process only). */
  url: string | null;
  schema?: string;
  /** Sent as the NOTIFY payload: a node does not wake itself twice for its own work. */
  nodeId: string;
  log: Logger;
}

/** The channel of one kind of work in one schema (a schema name too long for it is hashed). */
export function wakeUpChannel(schema: string | undefined, kind: WorkKind): string {
  const name = `pollgate_${schema ?? 'public'}_${kind}`;
  if (name.length <= MAX_CHANNEL) return name;
  return `pollgate_${createHash('sha256')
    .update(schema ?? '')
    .digest('hex')
    .slice(0, 32)}_${kind}`;
}

export class WakeUps {
  private readonly wakers = new Map<WorkKind, Array<() => void>>();
  private readonly channels: Map<WorkKind, string>;
  private readonly kindOfChannel: Map<string, WorkKind>;
  private readonly postgres: boolean;
  /** Kinds to NOTIFY at the end of this turn of the event loop. */
  private readonly queued = new Set<WorkKind>();
  private flushScheduled = false;
  private listener: pg.Client | undefined;
  private listenStarted = false;
  private stopped = false;
  private failures = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly onListening: Array<() => void> = [];

  constructor(private readonly o: WakeUpsOptions) {
    this.postgres = isPostgres(o.db) && o.url !== null;
    this.channels = new Map(KINDS.map((k) => [k, wakeUpChannel(o.schema, k)]));
    this.kindOfChannel = new Map([...this.channels].map(([k, c]) => [c, k]));
  }

  /** Calls `wake` whenever work of `kind` is committed, here or (on PostgreSQL) on another node. */
  on(kind: WorkKind, wake: () => void): void {
    this.wakers.set(kind, [...(this.wakers.get(kind) ?? []), wake]);
  }

  /** Work of `kind` was committed: wakes this node's stage now, and the other nodes' by NOTIFY. */
  notify(kind: WorkKind): void {
    this.wakeHere(kind);
    if (!this.postgres || this.stopped) return;
    this.queued.add(kind);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => void this.flush());
  }

  private wakeHere(kind: WorkKind): void {
    for (const wake of this.wakers.get(kind) ?? []) wake();
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    const channels = [...this.queued].map((k) => this.channels.get(k)!);
    this.queued.clear();
    if (channels.length === 0 || this.stopped) return;
    try {
      await this.o.db.raw('SELECT pg_notify(c, ?) FROM unnest(?::text[]) AS c', [this.o.nodeId, channels]);
    } catch (err) {
      // The other nodes find the work at their next tick.
      this.o.log.debug({ err: (err as Error).message }, 'wake-up NOTIFY failed: other nodes pick the work up at their next tick');
    }
  }

  /** Starts listening for other nodes' wake-ups (PostgreSQL; nothing to do on SQLite). */
  start(): void {
    if (!this.postgres || this.listenStarted || this.stopped) return;
    this.listenStarted = true;
    void this.connect();
  }

  /** Resolves once this node hears other nodes' wake-ups (at once without PostgreSQL or before `start`). */
  listening(): Promise<void> {
    if (!this.postgres || !this.listenStarted || this.listener) return Promise.resolve();
    return new Promise((resolve) => this.onListening.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    const client = this.listener;
    this.listener = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    this.reconnectTimer = undefined;
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.o.url!, application_name: `pollgate wake-ups ${this.o.nodeId}`.slice(0, 63) });
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost) return;
      lost = true;
      if (this.listener === client) this.listener = undefined;
      void client.end().catch(() => undefined);
      if (this.stopped) return;
      this.failures++;
      const delay = backoffMs(this.failures, 0.5, 30);
      this.o.log.warn({ err: err?.message, retryInMs: delay }, 'wake-up listener lost its database connection: reconnecting (ticks carry the work meanwhile)');
      this.reconnectTimer = setTimeout(() => void this.connect(), delay);
      this.reconnectTimer.unref();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (msg) => {
      const kind = this.kindOfChannel.get(msg.channel);
      if (kind && msg.payload !== this.o.nodeId) this.wakeHere(kind);
    });
    try {
      await client.connect();
      await client.query([...this.channels.values()].map((c) => `LISTEN ${client.escapeIdentifier(c)}`).join('; '));
    } catch (err) {
      onLost(err as Error);
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    const reconnected = this.failures > 0;
    this.failures = 0;
    this.listener = client;
    // Wake-ups sent while this node was not listening are lost: look for work once now.
    if (reconnected) for (const kind of KINDS) this.wakeHere(kind);
    for (const resolve of this.onListening.splice(0)) resolve();
  }
}
