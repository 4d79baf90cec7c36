import type { Knex } from 'knex';

/**
 * Security review:
 * - secrets inside a stored configuration are kept as `{"$enc": "<ciphertext>"}` wrappers, so a
 *   value sent in that merely looks like ciphertext is encrypted like any other; this rewrites the
 *   bare `enc:v1:…` strings written before (top-level values and callback headers);
 * - webhook tokens are looked up by their hash: `webhook_token` holds the hash and the token itself
 *   (needed to show the webhook URL) is kept encrypted in `webhook_token_encrypted`. Rows from before
 *   are converted at start, where the encryption key is known (instances/store.ts).
 */
const LEGACY = /^enc:v1:[A-Za-z0-9_-]*:[A-Za-z0-9_-]*:[A-Za-z0-9_-]*$/;
const wrap = (v: unknown): unknown => (typeof v === 'string' && LEGACY.test(v) ? { $enc: v } : v);

function wrapLegacy(text: string): string {
  const config = JSON.parse(text) as Record<string, unknown>;
  for (const [key, value] of Object.entries(config)) {
    if (key === 'event.notification.callback.headers' && value && typeof value === 'object' && !Array.isArray(value)) {
      config[key] = Object.fromEntries(Object.entries(value).map(([h, v]) => [h, wrap(v)]));
    } else config[key] = wrap(value);
  }
  return JSON.stringify(config);
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('instances', (t) => {
    t.text('webhook_token_encrypted');
  });
  for (const table of ['instances', 'webhook_deregistrations']) {
    const rows = (await knex(table).where('configuration', 'like', '%"enc:v1:%').select('id', 'configuration')) as Array<{ id: number; configuration: string }>;
    for (const row of rows)
      await knex(table)
        .where({ id: row.id })
        .update({ configuration: wrapLegacy(row.configuration) });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('instances', (t) => {
    t.dropColumn('webhook_token_encrypted');
  });
}
