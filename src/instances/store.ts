import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { SecretCipher } from '../secrets/cipher.js';
import { decryptConfiguration, encryptConfiguration } from '../secrets/redact.js';
import { callbackOriginOf } from './settings.js';

/** The database keeps only this of a webhook token: a read of it cannot forge ingress requests. */
export const hashWebhookToken = (token: string): string => createHash('sha256').update(token).digest('hex');

export type SigningSecretEntry = { secret: string; createdAt: number; expiresAt: number | null };

/** One configured account of a connector, as the rest of the gateway sees it (secrets decrypted). */
export interface Instance {
  id: number;
  elementKey: string;
  name: string;
  tags: string[];
  configuration: Record<string, unknown>;
  vendorType: 'polling' | 'webhook';
  eventsEnabled: boolean;
  callbackDisabled: boolean;
  webhookToken: string | null;
  /** The first provider webhook id (shown as `webhookId`); all of them are in `webhookIds`. */
  webhookId: string | null;
  /** Every provider webhook id, keyed by the connector's registration name ("default" for one). */
  webhookIds: Record<string, string>;
  createdAt: number;
  updatedAt: number;
  /** Secret configuration keys whose stored value no key of the key ring decrypts (left out of `configuration`). */
  unreadableSecrets: string[];
}

export interface InstanceRow {
  id: number;
  element_key: string;
  name: string;
  tags: string;
  configuration: string;
  vendor_type: string;
  events_enabled: number | boolean;
  callback_disabled: number | boolean;
  /** The origin of the callback URL (instances/settings.ts `callbackOrigin`). */
  callback_origin: string | null;
  /** The sha256 of the webhook token (ingress looks it up by this). */
  webhook_token: string | null;
  webhook_token_encrypted: string | null;
  webhook_id: string | null;
  webhook_ids: string | null;
  signing_secrets: string | null;
  next_sequence: number;
  created_at: number;
  updated_at: number;
}

/**
 * Reads and writes the instances table. Encryption happens here, so no other module handles
 * ciphertext; `secretsOf(elementKey)` tells which keys of a connector are secret.
 */
export class InstanceStore {
  constructor(
    private readonly db: Knex,
    private readonly cipher: SecretCipher,
    readonly secretsOf: (elementKey: string) => ReadonlySet<string>,
  ) {}

  fromRow(row: InstanceRow): Instance {
    const { configuration, unreadable } = decryptConfiguration(JSON.parse(row.configuration) as Record<string, unknown>, this.cipher);
    return {
      id: row.id,
      elementKey: row.element_key,
      name: row.name,
      tags: JSON.parse(row.tags) as string[],
      configuration,
      vendorType: row.vendor_type as Instance['vendorType'],
      eventsEnabled: Boolean(row.events_enabled),
      callbackDisabled: Boolean(row.callback_disabled),
      webhookToken: this.openWebhookToken(row, unreadable),
      webhookId: row.webhook_id,
      webhookIds: row.webhook_ids ? (JSON.parse(row.webhook_ids) as Record<string, string>) : {},
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      unreadableSecrets: unreadable,
    };
  }

  private openWebhookToken(row: InstanceRow, unreadable: string[]): string | null {
    if (!row.webhook_token_encrypted) return null;
    try {
      return this.cipher.decrypt(row.webhook_token_encrypted);
    } catch {
      unreadable.push('webhookToken');
      return null;
    }
  }

  /** Column values for a webhook token: its hash to find it by, the token encrypted to show it. */
  private webhookTokenColumns(token: string | null) {
    return { webhook_token: token === null ? null : hashWebhookToken(token), webhook_token_encrypted: token === null ? null : this.cipher.encrypt(token) };
  }

  /** Tokens stored in plain text before they were hashed: hashed and encrypted now (at start). */
  async hashLegacyWebhookTokens(): Promise<void> {
    const rows = (await this.db('instances').whereNotNull('webhook_token').whereNull('webhook_token_encrypted').select('id', 'webhook_token')) as Array<{
      id: number;
      webhook_token: string;
    }>;
    for (const row of rows) await this.db('instances').where({ id: row.id }).update(this.webhookTokenColumns(row.webhook_token));
  }

  encryptConfiguration(elementKey: string, configuration: Record<string, unknown>, alsoSecret: string[] = []): string {
    return JSON.stringify(encryptConfiguration(configuration, new Set([...this.secretsOf(elementKey), ...alsoSecret]), this.cipher));
  }

  /** A configuration `encryptConfiguration` made (queued deregistrations keep one): secrets decrypted where a key of the ring can. */
  decryptConfiguration(stored: string): { configuration: Record<string, unknown>; unreadable: string[] } {
    return decryptConfiguration(JSON.parse(stored) as Record<string, unknown>, this.cipher);
  }

  async get(id: number): Promise<Instance | undefined> {
    const row = (await this.db('instances').where({ id }).first()) as InstanceRow | undefined;
    return row ? this.fromRow(row) : undefined;
  }

  /** The instance and its signing secrets from one read (the hot paths need both). */
  async getWithSecrets(id: number): Promise<{ instance: Instance; signingSecrets: SigningSecretEntry[] } | undefined> {
    const row = (await this.db('instances').where({ id }).first()) as InstanceRow | undefined;
    return row ? this.withSecrets(row) : undefined;
  }

  /** getWithSecrets of many instances in one read (a claimed batch of polls); the missing are left out. */
  async getManyWithSecrets(ids: number[]): Promise<Array<{ instance: Instance; signingSecrets: SigningSecretEntry[] }>> {
    if (ids.length === 0) return [];
    const rows = (await this.db('instances').whereIn('id', ids)) as InstanceRow[];
    return rows.map((row) => this.withSecrets(row));
  }

  private withSecrets(row: InstanceRow): { instance: Instance; signingSecrets: SigningSecretEntry[] } {
    return { instance: this.fromRow(row), signingSecrets: this.decryptSigningSecrets(row.signing_secrets) };
  }

  private decryptSigningSecrets(stored: string | null): SigningSecretEntry[] {
    return stored ? JSON.parse(this.cipher.decrypt(stored)) : [];
  }

  async getByWebhookToken(token: string): Promise<Instance | undefined> {
    const row = (await this.db('instances')
      .where({ webhook_token: hashWebhookToken(token) })
      .first()) as InstanceRow | undefined;
    return row ? this.fromRow(row) : undefined;
  }

  /** Newest first, keyset-paged by id. */
  async list(page: { pageSize: number; before?: number }): Promise<Instance[]> {
    const q = this.db('instances')
      .orderBy('id', 'desc')
      .limit(page.pageSize + 1);
    if (page.before) q.where('id', '<', page.before);
    return ((await q) as InstanceRow[]).map((r) => this.fromRow(r));
  }

  /** Every instance of a connector: a connector replacement checks them all. */
  async listByElementKey(elementKey: string): Promise<Instance[]> {
    return ((await this.db('instances').where({ element_key: elementKey }).orderBy('id')) as InstanceRow[]).map((r) => this.fromRow(r));
  }

  async insert(values: Omit<Instance, 'id' | 'createdAt' | 'updatedAt' | 'unreadableSecrets' | 'webhookId' | 'webhookIds'>, now: number): Promise<number> {
    const [row] = (await this.db('instances')
      .insert({
        element_key: values.elementKey,
        name: values.name,
        tags: JSON.stringify(values.tags),
        configuration: this.encryptConfiguration(values.elementKey, values.configuration),
        callback_origin: callbackOriginOf(values.configuration),
        vendor_type: values.vendorType,
        events_enabled: values.eventsEnabled,
        callback_disabled: values.callbackDisabled,
        ...this.webhookTokenColumns(values.webhookToken),
        created_at: now,
        updated_at: now,
      })
      .returning('id')) as Array<{ id: number } | number>;
    return typeof row === 'number' ? row : row.id;
  }

  async update(
    id: number,
    values: Partial<Pick<Instance, 'name' | 'tags' | 'configuration' | 'vendorType' | 'eventsEnabled' | 'callbackDisabled' | 'webhookIds' | 'webhookToken'>> & {
      elementKey: string;
    },
    now: number,
  ): Promise<void> {
    const patch: Record<string, unknown> = { updated_at: now };
    if (values.name !== undefined) patch.name = values.name;
    if (values.tags !== undefined) patch.tags = JSON.stringify(values.tags);
    if (values.configuration !== undefined) {
      patch.configuration = this.encryptConfiguration(values.elementKey, values.configuration);
      // Kept with the configuration it is read from (the dispatcher's claims skip by origin).
      patch.callback_origin = callbackOriginOf(values.configuration);
    }
    if (values.vendorType !== undefined) patch.vendor_type = values.vendorType;
    if (values.eventsEnabled !== undefined) patch.events_enabled = values.eventsEnabled;
    if (values.callbackDisabled !== undefined) patch.callback_disabled = values.callbackDisabled;
    if (values.webhookIds !== undefined) {
      patch.webhook_ids = JSON.stringify(values.webhookIds);
      patch.webhook_id = Object.values(values.webhookIds)[0] ?? null;
    }
    if (values.webhookToken !== undefined) Object.assign(patch, this.webhookTokenColumns(values.webhookToken));
    await this.db('instances').where({ id }).update(patch);
  }

  /** Switches callbacks off for these instances (their receiver answered 410 Gone). */
  async holdCallbacks(ids: number[], now: number): Promise<void> {
    if (ids.length) await this.db('instances').whereIn('id', ids).update({ callback_disabled: true, updated_at: now });
  }

  /** Deletes the instance row (its rows in other tables with a foreign key go with it; the rest is the features' `onInstanceDelete`). */
  async delete(id: number): Promise<void> {
    await this.db('instances').where({ id }).delete();
  }

  /** The Standard Webhooks signing secrets, newest first (more than one during a rotation's overlap). */
  async signingSecrets(id: number): Promise<Array<{ secret: string; createdAt: number; expiresAt: number | null }>> {
    const row = (await this.db('instances').where({ id }).first('signing_secrets')) as { signing_secrets: string | null } | undefined;
    return this.decryptSigningSecrets(row?.signing_secrets ?? null);
  }

  async setSigningSecrets(id: number, secrets: Array<{ secret: string; createdAt: number; expiresAt: number | null }>): Promise<void> {
    await this.db('instances')
      .where({ id })
      .update({ signing_secrets: this.cipher.encrypt(JSON.stringify(secrets)) });
  }
}
