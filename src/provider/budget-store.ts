import type { Knex } from 'knex';
import { isPostgres } from '../db/index.js';

/**
 * Where the rate budgets of provider scopes are kept: on PostgreSQL one `rate_budgets` row per
 * (connector, scope), shared by every node, each take one atomic statement; on SQLite (one
 * process by design) a map in this process. Both keep the same state and apply the same rule.
 *
 * The rule is the generic cell rate algorithm (GCRA), in reservation form. `tat` is the scope's
 * theoretical arrival time: when the next request would go if requests were sent exactly every
 * `intervalMs`. A request may go `burstMs` ahead of it, never before a pause ends, and is given its
 * send time at once — so a caller needs one statement, not a loop of tries, even when it has to
 * wait. With a burst of b requests (burstMs = (b − 1) × interval), any N + 1 send times given
 * out span at least (N + 1 − b) intervals: rate-budget.ts picks the interval so that this is the
 * provider's window (plus a margin), whatever the number of nodes taking turns.
 */
export interface BudgetKey {
  elementKey: string;
  scope: string;
}

/** One request every `intervalMs`, up to `burstMs` ahead of that rate. */
export interface Pace {
  intervalMs: number;
  burstMs: number;
}

export interface BudgetState {
  /** When the next request would go at the steady rate (epoch ms). */
  tat: number;
  /** No request of the scope goes before this (a 429 or an exhausted `remaining`). */
  pausedUntil: number;
  pauseReason: string | null;
}

export type Take = { granted: true; sendAt: number } | { granted: false; state: BudgetState };

export interface BudgetStore {
  /** Reserves the scope's next send time when it is no later than `latest`; else reserves nothing. */
  take(key: BudgetKey, pace: Pace, now: number, latest: number): Promise<Take>;
  /** No request of the scope before `until` (a later pause already recorded wins). */
  pause(key: BudgetKey, until: number, reason: string, now: number): Promise<void>;
  /** The provider reported how full the scope is: no request at the steady rate before `tat`. */
  raise(key: BudgetKey, tat: number, now: number): Promise<void>;
  read(key: BudgetKey): Promise<BudgetState | undefined>;
}

/** The rule (the SQL of PgBudgetStore.take is this, in one statement). */
export function decide(state: BudgetState, pace: Pace, now: number, latest: number): { sendAt: number; tat: number } | undefined {
  const from = Math.max(now, state.pausedUntil);
  const sendAt = Math.max(from, state.tat - pace.burstMs);
  if (sendAt > latest) return undefined;
  return { sendAt, tat: Math.max(from, state.tat) + pace.intervalMs };
}

/** When the scope's next request could go, and why, if that is after `now`. */
export function waitingUntil(state: BudgetState, pace: Pace, now: number): { until: number; reason: string } | undefined {
  const budgetAt = state.tat - pace.burstMs;
  const until = Math.max(state.pausedUntil, budgetAt);
  if (until <= now) return undefined;
  return { until, reason: state.pausedUntil >= budgetAt ? (state.pauseReason ?? 'paused') : 'budget exhausted' };
}

export function createBudgetStore(db: Knex): BudgetStore {
  return isPostgres(db) ? new PgBudgetStore(db) : new MemoryBudgetStore();
}

const EMPTY: BudgetState = { tat: 0, pausedUntil: 0, pauseReason: null };

export class MemoryBudgetStore implements BudgetStore {
  private readonly states = new Map<string, BudgetState>();

  private id(key: BudgetKey): string {
    return `${key.elementKey}\n${key.scope}`;
  }

  async take(key: BudgetKey, pace: Pace, now: number, latest: number): Promise<Take> {
    const state = this.states.get(this.id(key)) ?? EMPTY;
    const next = decide(state, pace, now, latest);
    if (!next) return { granted: false, state };
    this.states.set(this.id(key), { ...state, tat: next.tat });
    return { granted: true, sendAt: next.sendAt };
  }

  async pause(key: BudgetKey, until: number, reason: string): Promise<void> {
    const state = this.states.get(this.id(key)) ?? EMPTY;
    if (until > state.pausedUntil) this.states.set(this.id(key), { ...state, pausedUntil: until, pauseReason: reason });
  }

  async raise(key: BudgetKey, tat: number): Promise<void> {
    const state = this.states.get(this.id(key)) ?? EMPTY;
    if (tat > state.tat) this.states.set(this.id(key), { ...state, tat });
  }

  async read(key: BudgetKey): Promise<BudgetState | undefined> {
    return this.states.get(this.id(key));
  }
}

type Row = { tat: number; paused_until: number; pause_reason: string | null; granted_at?: number | null };

const stateOf = (row: Row): BudgetState => ({ tat: Number(row.tat), pausedUntil: Number(row.paused_until), pauseReason: row.pause_reason });

/**
 * One row per (connector, scope); each method one statement. Every SET expression reads the row
 * as it was before the statement (PostgreSQL's rule), under the row lock that ON CONFLICT takes:
 * nodes taking from one scope at once are serialized on that row, never over the budget.
 */
export class PgBudgetStore implements BudgetStore {
  constructor(private readonly db: Knex) {}

  async take(key: BudgetKey, pace: Pace, now: number, latest: number): Promise<Take> {
    const interval = Math.ceil(pace.intervalMs);
    const burst = Math.floor(pace.burstMs);
    // decide(): sendAt = max(now, paused_until, tat − burst); granted when sendAt ≤ latest, then
    // tat = max(now, paused_until, tat) + interval. granted_at answers this take (NULL: refused).
    const sendAt = 'GREATEST(:now, b.paused_until, b.tat - :burst)';
    const result = await this.db.raw<{ rows: Row[] }>(
      `INSERT INTO rate_budgets AS b (element_key, scope, tat, paused_until, granted_at, updated_at)
       VALUES (:elementKey, :scope, :firstTat, 0, :now, :now)
       ON CONFLICT (element_key, scope) DO UPDATE SET
         granted_at = CASE WHEN ${sendAt} <= :latest THEN ${sendAt} END,
         tat = CASE WHEN ${sendAt} <= :latest THEN GREATEST(:now, b.paused_until, b.tat) + :interval ELSE b.tat END,
         updated_at = :now
       RETURNING tat, paused_until, pause_reason, granted_at`,
      { ...key, now, latest, interval, burst, firstTat: now + interval },
    );
    const row = result.rows[0];
    return row.granted_at === null || row.granted_at === undefined
      ? { granted: false, state: stateOf(row) }
      : { granted: true, sendAt: Number(row.granted_at) };
  }

  async pause(key: BudgetKey, until: number, reason: string, now: number): Promise<void> {
    await this.db.raw(
      `INSERT INTO rate_budgets AS b (element_key, scope, tat, paused_until, pause_reason, updated_at)
       VALUES (:elementKey, :scope, 0, :until, :reason, :now)
       ON CONFLICT (element_key, scope) DO UPDATE SET
         pause_reason = CASE WHEN :until > b.paused_until THEN :reason ELSE b.pause_reason END,
         paused_until = GREATEST(b.paused_until, :until),
         updated_at = :now`,
      { ...key, until: Math.ceil(until), reason, now },
    );
  }

  async raise(key: BudgetKey, tat: number, now: number): Promise<void> {
    await this.db.raw(
      `INSERT INTO rate_budgets AS b (element_key, scope, tat, paused_until, updated_at)
       VALUES (:elementKey, :scope, :tat, 0, :now)
       ON CONFLICT (element_key, scope) DO UPDATE SET tat = GREATEST(b.tat, :tat), updated_at = :now`,
      { ...key, tat: Math.ceil(tat), now },
    );
  }

  async read(key: BudgetKey): Promise<BudgetState | undefined> {
    const row = (await this.db('rate_budgets').where({ element_key: key.elementKey, scope: key.scope }).first('tat', 'paused_until', 'pause_reason')) as
      | Row
      | undefined;
    return row ? stateOf(row) : undefined;
  }
}
