import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import got from 'got';
import { projectRoot } from '../../src/config/index.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * What the tests of the bundled connectors (test/providers/<key>/) share: a gateway whose
 * provider waits are recorded instead of slept, the instance JSON of a connector's doc page, and
 * helpers to post webhooks to an instance as its provider would.
 */
export interface CatalogGateway extends TestGateway {
  /** Every wait the provider client asked for (Retry-After, retry delays), in ms. */
  sleeps: number[];
}

export async function startCatalogGateway(): Promise<CatalogGateway> {
  const sleeps: number[] = [];
  const t = await startGateway({ options: { sleep: async (ms: number) => void sleeps.push(ms) } });
  return Object.assign(t, { sleeps });
}

export type DocInstance = { element: { key: string }; name?: string; providerData?: Record<string, unknown>; configuration: Record<string, unknown> };

/** The ```json blocks of docs/connectors/<key>.md that are instances (have "element"), in page order. */
export function docInstanceJsons(key: string): DocInstance[] {
  const page = readFileSync(join(projectRoot, 'docs', 'connectors', `${key}.md`), 'utf8');
  const parsed = [...page.matchAll(/```json\n([\s\S]*?)```/g)].map((block) => {
    try {
      return JSON.parse(block[1]) as DocInstance;
    } catch {
      return undefined; // a fragment of a connector definition, not an instance
    }
  });
  const found = parsed.filter((json): json is DocInstance => json?.element !== undefined);
  if (found.length === 0) throw new Error(`docs/connectors/${key}.md has no instance JSON`);
  return found;
}

/** The first instance JSON of a doc page (the token alternative where a connector has several). */
export function docInstanceJson(key: string): DocInstance {
  return docInstanceJsons(key)[0];
}

/** The doc page's instance JSON of its OAuth alternative (the one with providerData). */
export function docOAuthInstanceJson(key: string): DocInstance & { providerData: Record<string, unknown> } {
  const json = docInstanceJsons(key).find((j) => j.providerData !== undefined);
  if (!json) throw new Error(`docs/connectors/${key}.md has no OAuth instance JSON (with providerData)`);
  return json as never;
}

/** POSTs the doc page's instance JSON as written, plus `base.url` and any `configuration` given. */
export async function createFromDoc(t: TestGateway, key: string, baseUrl: string, configuration: Record<string, unknown> = {}) {
  const json = docInstanceJson(key);
  const body = { ...json, configuration: { ...json.configuration, 'base.url': baseUrl, ...configuration } };
  const res = await t.api.post('instances', { json: body });
  expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
  const created = res.body as unknown as { id: number; webhookUrl?: string; webhookId?: string; createdDate: string; configuration: Record<string, unknown> };
  // Test gateways advertise a placeholder public URL: point it at the real port.
  return { ...created, hookUrl: created.webhookUrl?.replace('http://127.0.0.1:1', t.url) };
}

export function postHook(url: string, body: string, headers: Record<string, string>) {
  return got.post(url, { body, headers: { 'content-type': 'application/json', ...headers }, throwHttpErrors: false, retry: { limit: 0 } });
}

/** [eventType, objectType, objectId] of an instance's events, oldest first. */
export async function eventTriples(t: TestGateway, id: number): Promise<string[][]> {
  const events: Array<{ eventType: string; objectType: string; objectId: string }> = [];
  let next: string | undefined;
  do {
    const res = await t.api.get(`instances/${id}/events?pageSize=500${next ? `&nextPage=${encodeURIComponent(next)}` : ''}`);
    events.push(...(res.body as unknown as typeof events));
    next = res.headers['elements-next-page-token'] as string | undefined;
  } while (next);
  return events.reverse().map((e) => [e.eventType, e.objectType, e.objectId]);
}

/** A poll-now answer in which none of `objectTypes` fetched or raised anything. */
export function quietPoll(...objectTypes: string[]): Record<string, { fetched: number; created: number; updated: number; deleted: number }> {
  return Object.fromEntries(objectTypes.map((o) => [o, { fetched: 0, created: 0, updated: 0, deleted: 0 }]));
}
