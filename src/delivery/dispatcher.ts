import http from 'node:http';
import https from 'node:https';
import type schedule from 'node-schedule';
import got from 'got';
import { JSONPath } from 'jsonpath-plus';
import type { Feature, GatewayContext } from '../context.js';
import { claimDue, releaseLeases } from '../db/lease.js';
import { bulkInsert } from '../db/bulk.js';
import { GroupCommit } from '../db/group-commit.js';
import { checkUrlSyntax, createGuardedLookup } from '../network/ssrf-guard.js';
import { parseRetryAfter } from '../provider/http-client.js';
import { buildRequests, loadBodies, loadBody, type CallbackRequest, type NotificationRow } from './build.js';
import { signatureHeaders } from './signing.js';
import { everySeconds } from '../clock.js';

/**
 * The dispatcher drains the outbox. A tick claims due notifications with a lease (so no two
 * workers or nodes send the same attempt at once), sends each, records the attempt, and decides:
 * delivered (2xx/3xx), retry later on the schedule (honouring Retry-After), dead when the schedule
 * runs out, or held when the callback answered 410 Gone. A worker that dies mid-send loses nothing:
 * the lease expires and the notification is sent again with the same `webhook-id`.
 */
interface Outcome {
  attempt: Record<string, unknown>;
  id: string;
  patch: Record<string, unknown>;
  holdInstance: number | null;
}

interface AttemptResult {
  status: number | null;
  durationMs: number;
  responseBody: string;
  error: string | null;
  retryAfterSeconds?: number;
  json?: unknown;
}

const HOUR = 3_600_000;
// Keep-alive connections: receivers get many callbacks in a row.
const CALLBACK_AGENTS = { http: new http.Agent({ keepAlive: true, maxSockets: 256 }), https: new https.Agent({ keepAlive: true, maxSockets: 256 }) };

export class Dispatcher implements Feature {
  readonly name = 'delivery';
  private job: schedule.Job | undefined;
  private readonly inFlight = new Map<string, Promise<void>>();
  private ticking = false;
  private stopping = false;
  private lastRetention = 0;
  /** Jitter source; tests replace it to make retry times exact. */
  random: () => number = Math.random;
  /** Attempts and outcomes are recorded with group commit: one transaction per batch. */
  private readonly outcomes: GroupCommit<Outcome, void>;

  private readonly lookup: ReturnType<typeof createGuardedLookup>;

  constructor(private readonly ctx: GatewayContext) {
    this.lookup = createGuardedLookup(ctx.config.network);
    this.outcomes = new GroupCommit((items) => this.record(items));
  }

  private async record(items: Outcome[]): Promise<void[]> {
    const now = this.ctx.clock.now();
    await this.ctx.db.transaction(async (trx) => {
      await bulkInsert(trx, 'attempts', items.map((o) => o.attempt));
      // The lease guard: an outcome of a lease that expired and was retaken is not written.
      for (const o of items) await trx('notifications').where({ id: o.id, lease_owner: this.ctx.nodeId }).update(o.patch);
      const held = [...new Set(items.map((o) => o.holdInstance).filter((id): id is number => id !== null))];
      if (held.length) await trx('instances').whereIn('id', held).update({ callback_disabled: true, updated_at: now });
    });
    return items.map(() => undefined);
  }

  start(): void {
    if (this.job || !this.ctx.config.delivery.enabled) return;
    this.stopping = false;
    this.job = everySeconds(this.ctx.config.delivery.tickSeconds, () => this.tick());
  }

  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.job?.cancel();
    this.job = undefined;
    const all = Promise.allSettled([...this.inFlight.values()]);
    if (graceMs > 0) await Promise.race([all, new Promise((r) => setTimeout(r, graceMs).unref())]);
    if (this.inFlight.size > 0) await releaseLeases(this.ctx.db, 'notifications', [...this.inFlight.keys()], this.ctx.nodeId).catch(() => 0);
  }

  private get leaseMs(): number {
    const d = this.ctx.config.delivery;
    // A lease must outlive the slowest attempt (one request per event in templated mode aside).
    return Math.max(d.leaseSeconds, d.timeoutSeconds * 2 + 5) * 1000;
  }

  /**
   * One pass: keeps up to `delivery.concurrency` sends going, claiming more as each finishes, until
   * nothing more is due; resolves when every send it started is recorded.
   */
  async tick(): Promise<number> {
    if (this.ticking || this.stopping) return 0;
    this.ticking = true;
    let total = 0;
    try {
      const now = this.ctx.clock.now();
      let exhausted = false;
      for (;;) {
        const concurrency = this.ctx.config.delivery.concurrency;
        const free = concurrency - this.inFlight.size;
        // Refill in batches (half the slots), not one claim per finished send.
        if (free > 0 && (free >= Math.ceil(concurrency / 2) || this.inFlight.size === 0) && !exhausted && !this.stopping) {
          const claimed = await this.claim(free);
          if (claimed < free) exhausted = true;
          total += claimed;
        }
        if (this.inFlight.size === 0) break;
        await Promise.race(this.inFlight.values());
      }
      if (now - this.lastRetention > HOUR) await this.applyRetention(now);
    } catch (err) {
      this.ctx.log.error({ err }, 'delivery tick failed');
    } finally {
      this.ticking = false;
    }
    return total;
  }

  private async claim(limit: number): Promise<number> {
    const { db, clock, nodeId } = this.ctx;
    const rows = await claimDue<NotificationRow>(db, {
      table: 'notifications', dueColumn: 'next_attempt_at', now: clock.now(), owner: nodeId, leaseMs: this.leaseMs, limit,
      where: (q) => q.where('status', 'pending').whereIn('instance_id', db('instances').select('id').where({ events_enabled: true, callback_disabled: false })),
      orderBy: [{ column: 'next_attempt_at' }, { column: 'created_at' }],
    });
    // Oldest first: an instance's notifications go out in the order they were made.
    rows.sort((a, b) => a.created_at - b.created_at);
    const bodies = await loadBodies(db, rows).catch(() => new Map<string, Record<string, unknown>>());
    for (const row of rows) {
      const p = this.deliver(row, bodies.get(row.id)).finally(() => this.inFlight.delete(row.id));
      this.inFlight.set(row.id, p);
    }
    return rows.length;
  }

  /** Ticks until nothing is due (tests and the benchmark). */
  async drain(maxTicks = 1000): Promise<number> {
    let total = 0;
    for (let i = 0; i < maxTicks; i++) {
      const n = await this.tick();
      total += n;
      if (n === 0) break;
    }
    return total;
  }

  private async deliver(row: NotificationRow, preloaded?: Record<string, unknown>): Promise<void> {
    const { db, clock, log, instances, config } = this.ctx;
    try {
      const { instance, settings, signingSecrets: secrets } = await instances.forWork(row.instance_id);
      const cb = settings.callback;
      const body = preloaded ?? (await loadBody(db, row));
      const requests = cb.url ? buildRequests(instance, cb, body, row.source) : [];
      let result: AttemptResult = { status: null, durationMs: 0, responseBody: '', error: 'the instance has no callback URL' };
      for (const request of requests) {
        const bytes = request.body;
        const signed = { ...request, headers: { ...request.headers, ...signatureHeaders({ id: row.id, body: bytes, now: clock.now(), secrets, signatureKey: cb.signatureKey }) } };
        result = await this.send(signed);
        if (!isSuccess(result.status)) break;
      }
      const now = clock.now();
      const outcome = this.decide(row, result, settings.retrySchedule ?? config.delivery.retrySchedule);
      const responseData = cb.responseMapping && result.json !== undefined ? mapResponse(cb.responseMapping, result.json) : undefined;
      await this.outcomes.submit({
        attempt: {
          notification_id: row.id, attempted_at: now, status_code: result.status, duration_ms: Math.round(result.durationMs),
          response_body: result.responseBody.slice(0, config.delivery.maxResponseBodyBytes), error: result.error, node: this.ctx.nodeId,
        },
        id: row.id,
        patch: {
          status: outcome.status, attempt_count: row.attempt_count + (outcome.status === 'pending' && outcome.held ? 0 : 1),
          next_attempt_at: outcome.nextAttemptAt ?? row.next_attempt_at, last_status_code: result.status, last_error: result.error,
          updated_at: now, delivered_at: outcome.status === 'delivered' ? now : null, lease_owner: null, lease_expires_at: null,
          ...(responseData ? { response_data: JSON.stringify(responseData) } : {}),
        },
        holdInstance: outcome.held ? row.instance_id : null,
      });
      this.ctx.metrics.deliveries.inc({ outcome: outcome.held ? 'held' : outcome.status === 'pending' ? 'retry' : outcome.status });
      if (outcome.held) this.ctx.instances.invalidate(row.instance_id);
      if (outcome.held) log.warn({ instanceId: row.instance_id }, 'callback answered 410 Gone: notifications are held until events are enabled again');
    } catch (err) {
      // Could not even build or record the attempt: leave it to the lease to bring it back.
      log.error({ err, notificationId: row.id }, 'delivery failed unexpectedly');
    }
  }

  private decide(row: NotificationRow, r: AttemptResult, schedule: number[]): { status: string; nextAttemptAt?: number; held?: boolean } {
    const now = this.ctx.clock.now();
    if (isSuccess(r.status)) return { status: 'delivered' };
    if (r.status === 410) return { status: 'pending', nextAttemptAt: now, held: true };
    const retriesDone = row.attempt_count; // attempts before this one
    if (retriesDone >= schedule.length) return { status: 'dead' };
    let delayMs = schedule[retriesDone] * 1000;
    const jitter = this.ctx.config.delivery.retryJitter;
    delayMs = Math.round(delayMs * (1 + jitter * (2 * this.random() - 1)));
    if (r.retryAfterSeconds !== undefined) delayMs = r.retryAfterSeconds * 1000;
    return { status: 'pending', nextAttemptAt: now + delayMs };
  }

  private async send(request: CallbackRequest): Promise<AttemptResult> {
    const started = performance.now();
    const { config } = this.ctx;
    try {
      // Literal addresses skip DNS, so the URL is checked here too; names are checked on lookup.
      checkUrlSyntax(request.url, config.network, 'callback URL');
      const res = await got(request.url, {
        method: request.method as 'POST',
        headers: request.headers,
        body: request.body,
        throwHttpErrors: false,
        followRedirect: false,
        retry: { limit: 0 },
        timeout: { request: config.delivery.timeoutSeconds * 1000 },
        dnsLookup: this.lookup as never,
        agent: CALLBACK_AGENTS,
      });
      let json: unknown;
      if (/json/i.test(String(res.headers['content-type'] ?? ''))) {
        try {
          json = JSON.parse(res.body);
        } catch {
          json = undefined;
        }
      }
      return {
        status: res.statusCode, durationMs: performance.now() - started, responseBody: res.body,
        error: isSuccess(res.statusCode) ? null : `the callback answered HTTP ${res.statusCode}`,
        retryAfterSeconds: res.statusCode === 429 || res.statusCode === 503 ? parseRetryAfter(res.headers['retry-after']) : undefined,
        json,
      };
    } catch (err) {
      const e = err as Error & { code?: string };
      const reason = e.name === 'TimeoutError' || e.code === 'ETIMEDOUT' ? `timed out after ${config.delivery.timeoutSeconds} s` : `${e.code ?? e.name}: ${(e.cause as Error | undefined)?.message ?? e.message}`;
      return { status: null, durationMs: performance.now() - started, responseBody: '', error: reason };
    }
  }

  /** Delivered notifications past retention are deleted; undelivered ones never are. */
  private async applyRetention(now: number): Promise<void> {
    this.lastRetention = now;
    const cutoff = now - this.ctx.config.delivery.retentionDays * 24 * HOUR;
    await this.ctx.db('notifications').where('status', 'delivered').where('delivered_at', '<', cutoff).delete();
  }
}

function isSuccess(status: number | null): boolean {
  return status !== null && status >= 200 && status < 400;
}

function mapResponse(mapping: Record<string, string>, json: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, path] of Object.entries(mapping)) {
    if (json && typeof json === 'object') out[name] = (JSONPath({ path, json: json as object, wrap: true }) as unknown[])[0] ?? null;
  }
  return out;
}
