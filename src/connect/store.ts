import type { Knex } from 'knex';
import type { SecretCipher } from '../secrets/cipher.js';
import { deleteInBatches } from '../db/bulk.js';

/**
 * The connect_sessions table (migration 015): the only code that reads or writes it. Tokens and
 * states arrive here already hashed; `data` is encrypted and decrypted here.
 */
/** `creating`: a key-based form is being turned into an instance (one submission at a time). */
export type SessionStatus = 'pending' | 'creating' | 'authorizing' | 'completed' | 'failed';

/** What a session carries that may be secret, kept encrypted as one value. */
export interface SessionData {
  name?: string;
  tags: string[];
  /** The app's preset configuration (callback URL, interval, the OAuth client's key and secret…). */
  configuration: Record<string, unknown>;
  /** The connector the end user chose (one of `elementKeys`). */
  elementKey?: string;
  /** The values the end user typed, kept while they are away at the provider. */
  entered?: Record<string, unknown>;
  /** OAuth 2.0 PKCE. */
  codeVerifier?: string;
  /** OAuth 1.0a: the request token's secret, for the access-token call. */
  requestSecret?: string;
  /** Signs the events bound to the session (a first connect that failed: no instance, no instance secret). */
  signingSecret?: string;
}

export interface ConnectSession {
  id: number;
  publicId: string;
  elementKeys: string[];
  instanceId: number | null;
  endUser: string | null;
  successUrl: string;
  errorUrl: string | null;
  status: SessionStatus;
  data: SessionData;
  resultInstanceId: number | null;
  error: string | null;
  expiresAt: number;
  createdAt: number;
}

interface Row {
  id: number;
  public_id: string;
  element_keys: string;
  instance_id: number | null;
  end_user: string | null;
  success_url: string;
  error_url: string | null;
  status: string;
  data: string;
  result_instance_id: number | null;
  error: string | null;
  expires_at: number | string;
  created_at: number | string;
}

export class ConnectStore {
  constructor(
    private readonly db: Knex,
    private readonly cipher: SecretCipher,
  ) {}

  private toSession(row: Row): ConnectSession {
    return {
      id: row.id,
      publicId: row.public_id,
      elementKeys: JSON.parse(row.element_keys) as string[],
      instanceId: row.instance_id,
      endUser: row.end_user,
      successUrl: row.success_url,
      errorUrl: row.error_url,
      status: row.status as SessionStatus,
      data: JSON.parse(this.cipher.decrypt(row.data)) as SessionData,
      resultInstanceId: row.result_instance_id,
      error: row.error,
      expiresAt: Number(row.expires_at),
      createdAt: Number(row.created_at),
    };
  }

  async insert(s: Omit<ConnectSession, 'id' | 'status' | 'resultInstanceId' | 'error'> & { tokenHash: string }): Promise<void> {
    await this.db('connect_sessions').insert({
      public_id: s.publicId,
      token_hash: s.tokenHash,
      element_keys: JSON.stringify(s.elementKeys),
      instance_id: s.instanceId,
      end_user: s.endUser,
      success_url: s.successUrl,
      error_url: s.errorUrl,
      status: 'pending',
      data: this.cipher.encrypt(JSON.stringify(s.data)),
      expires_at: s.expiresAt,
      created_at: s.createdAt,
      updated_at: s.createdAt,
    });
  }

  /**
   * Retention: sessions that expired before `before`, whatever their status. A session is of no use
   * once expired (its token and state are refused); the instance it made keeps no reference to it.
   */
  prune(before: number): Promise<number> {
    return deleteInBatches(this.db, 'connect_sessions', (q) => q.where('expires_at', '<', before));
  }

  async byTokenHash(hash: string): Promise<ConnectSession | undefined> {
    const row = (await this.db('connect_sessions').where({ token_hash: hash }).first()) as Row | undefined;
    return row && this.toSession(row);
  }

  async byId(id: number): Promise<ConnectSession | undefined> {
    const row = (await this.db('connect_sessions').where({ id }).first()) as Row | undefined;
    return row && this.toSession(row);
  }

  async byPublicId(publicId: string): Promise<ConnectSession | undefined> {
    const row = (await this.db('connect_sessions').where({ public_id: publicId }).first()) as Row | undefined;
    return row && this.toSession(row);
  }

  /** The end user leaves for the provider: the state (hashed) and what the return needs, while still pending. */
  async beginAuthorization(id: number, stateHash: string, data: SessionData, now: number): Promise<boolean> {
    const n = await this.db('connect_sessions')
      .where({ id })
      .whereIn('status', ['pending', 'authorizing'])
      .update({ status: 'authorizing', state_hash: stateHash, data: this.cipher.encrypt(JSON.stringify(data)), updated_at: now });
    return n === 1;
  }

  /**
   * The provider sent the browser back: the session holding this state, which is cleared in the
   * same statement so a second use of it (a replayed redirect) finds nothing.
   */
  async takeState(stateHash: string, now: number): Promise<ConnectSession | undefined> {
    return this.db.transaction(async (trx) => {
      const row = (await trx('connect_sessions').where({ state_hash: stateHash, status: 'authorizing' }).first()) as Row | undefined;
      if (!row) return undefined;
      const n = await trx('connect_sessions').where({ id: row.id, state_hash: stateHash }).update({ state_hash: null, updated_at: now });
      return n === 1 ? this.toSession(row) : undefined;
    });
  }

  /** pending → creating: false when another submission holds the session (or it ended). */
  async hold(id: number, now: number): Promise<boolean> {
    return (await this.db('connect_sessions').where({ id, status: 'pending' }).update({ status: 'creating', updated_at: now })) === 1;
  }

  /** creating → pending again: the submission was refused (its errors are shown) and may be corrected. */
  async release(id: number, now: number): Promise<void> {
    await this.db('connect_sessions').where({ id, status: 'creating' }).update({ status: 'pending', updated_at: now });
  }

  /**
   * Sessions that expired while the user had not finished (pending, or gone to the provider), oldest
   * first: the expiry loop fails each once (`finish`), so the app hears of an abandoned connect.
   */
  async expiredUnfinished(now: number, limit: number): Promise<ConnectSession[]> {
    const rows = (await this.db('connect_sessions')
      .whereIn('status', ['pending', 'authorizing'])
      .where('expires_at', '<=', now)
      .orderBy('expires_at')
      .limit(limit)) as Row[];
    return rows.map((r) => this.toSession(r));
  }

  /** Pending, creating or authorizing → completed/failed, once: false when another request finished it first. */
  async finish(id: number, outcome: { status: 'completed' | 'failed'; instanceId?: number; error?: string }, now: number): Promise<boolean> {
    const n = await this.db('connect_sessions')
      .where({ id })
      .whereIn('status', ['pending', 'creating', 'authorizing'])
      .update({ status: outcome.status, result_instance_id: outcome.instanceId ?? null, error: outcome.error ?? null, state_hash: null, updated_at: now });
    return n === 1;
  }
}
