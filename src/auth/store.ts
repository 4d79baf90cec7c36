import type { Knex } from 'knex';
import type { SecretCipher } from '../secrets/cipher.js';

/**
 * The instance_auth table: an instance's provider tokens, encrypted as one value, and the state of
 * its auth. The only code that reads or writes that table. Refresh is single-flight across nodes
 * through a lease on the row (`refresh_owner`/`refresh_until`): the node that takes it refreshes,
 * the others wait and read the result.
 */
export interface TokenSet {
  accessToken: string;
  refreshToken?: string;
  /** OAuth 1.0a token secret. */
  tokenSecret?: string;
  /** The API base from the token answer (`baseUrlFrom`). */
  baseUrl?: string;
  /** The scope the token answer said was granted (absent when the provider left it out). */
  scope?: string;
}

export type AuthState = 'ok' | 'refreshing' | 'failed';

export interface AuthRecord {
  type: string;
  state: AuthState;
  tokens: TokenSet;
  expiresAt: number | null;
  lastRefreshAt: number | null;
  lastError: string | null;
}

interface Row {
  instance_id: number;
  type: string;
  state: string;
  tokens: string;
  expires_at: number | string | null;
  last_refresh_at: number | string | null;
  last_error: string | null;
  refresh_owner: string | null;
  refresh_until: number | string | null;
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

export class TokenStore {
  constructor(
    private readonly db: Knex,
    private readonly cipher: SecretCipher,
  ) {}

  async get(instanceId: number, now: number): Promise<AuthRecord | undefined> {
    const row = (await this.db('instance_auth').where({ instance_id: instanceId }).first()) as Row | undefined;
    if (!row) return undefined;
    const leased = row.refresh_owner !== null && (num(row.refresh_until) ?? 0) > now;
    return {
      type: row.type,
      state: row.state === 'failed' ? 'failed' : leased ? 'refreshing' : 'ok',
      tokens: JSON.parse(this.cipher.decrypt(row.tokens)) as TokenSet,
      expiresAt: num(row.expires_at),
      lastRefreshAt: num(row.last_refresh_at),
      lastError: row.last_error,
    };
  }

  /** A new grant (create, PATCH): replaces whatever was there, state ok, error cleared. */
  async put(instanceId: number, grant: { type: string; tokens: TokenSet; expiresAt: number | null }, now: number): Promise<void> {
    const row = {
      instance_id: instanceId,
      type: grant.type,
      state: 'ok',
      tokens: this.cipher.encrypt(JSON.stringify(grant.tokens)),
      expires_at: grant.expiresAt,
      last_refresh_at: null,
      last_error: null,
      refresh_owner: null,
      refresh_until: null,
      updated_at: now,
    };
    await this.db('instance_auth').insert(row).onConflict('instance_id').merge();
  }

  /** Takes the refresh lease unless another node holds an unexpired one; true when taken. */
  async takeRefreshLease(instanceId: number, owner: string, now: number, leaseMs: number): Promise<boolean> {
    const n = await this.db('instance_auth')
      .where({ instance_id: instanceId })
      .whereNot('state', 'failed')
      .where((q) => q.whereNull('refresh_until').orWhere('refresh_until', '<', now))
      .update({ refresh_owner: owner, refresh_until: now + leaseMs });
    return n === 1;
  }

  /**
   * The refreshed tokens — a rotated refresh token together with its access token — in one
   * statement, only while `owner` still holds the lease. False when the lease was lost.
   */
  async saveRefreshed(instanceId: number, owner: string, tokens: TokenSet, expiresAt: number | null, now: number): Promise<boolean> {
    const n = await this.db('instance_auth')
      .where({ instance_id: instanceId, refresh_owner: owner })
      .update({
        tokens: this.cipher.encrypt(JSON.stringify(tokens)),
        expires_at: expiresAt,
        last_refresh_at: now,
        last_error: null,
        refresh_owner: null,
        refresh_until: null,
        updated_at: now,
      });
    return n === 1;
  }

  /** Gives the lease back: unused, or after a refresh that failed for a passing reason (kept as lastError). */
  async releaseRefreshLease(instanceId: number, owner: string, error: string | null, now: number): Promise<void> {
    await this.db('instance_auth')
      .where({ instance_id: instanceId, refresh_owner: owner })
      .update({ refresh_owner: null, refresh_until: null, last_error: error, updated_at: now });
  }

  /** The grant is gone (revoked, expired refresh token): provider calls stop until a PATCH. */
  async markFailed(instanceId: number, error: string, now: number): Promise<void> {
    await this.db('instance_auth')
      .where({ instance_id: instanceId })
      .update({ state: 'failed', last_error: error, refresh_owner: null, refresh_until: null, updated_at: now });
  }
}
