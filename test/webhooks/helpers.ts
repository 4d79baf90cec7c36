import { expect } from 'chai';
import got from 'got';
import type { TestGateway } from '../helpers/gateway.js';
import { signSandboxBody, type SandboxProvider } from '../../sandbox/sandbox.js';

/** The webhook secret of the sandbox instances these tests create, and a body's signature with it. */
export const SECRET = 'whk-secret-123';
export const sign = (body: string) => signSandboxBody(SECRET, body);

/**
 * A sandbox instance in webhook mode, registered with the sandbox provider; `hookUrl` is its
 * `webhookUrl` on the test gateway's real port (the gateway's public URL in tests is a placeholder).
 */
export async function createWebhookInstance(t: TestGateway, sandbox: SandboxProvider, configuration: Record<string, unknown> = {}) {
  const res = await t.api.post('instances', {
    json: {
      element: { key: 'sandbox' },
      name: 'hooks',
      configuration: { base_url: sandbox.url, api_key: 'k', webhook_secret: SECRET, 'event.vendor.type': 'webhook', ...configuration },
    },
  });
  expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
  const body = res.body as unknown as { id: number; webhookUrl: string; webhookId: string };
  for (const sub of sandbox.subscriptions.values()) sub.url = sub.url.replace('http://127.0.0.1:1', t.url);
  return { ...body, hookUrl: body.webhookUrl.replace('http://127.0.0.1:1', t.url) };
}

export const post = (url: string, body: string, headers: Record<string, string>) =>
  got.post(url, { body, headers, throwHttpErrors: false, retry: { limit: 0 } });

/** POSTs a body signed with the sandbox secret. */
export const postSigned = (url: string, body: string, headers: Record<string, string> = {}) =>
  post(url, body, { 'content-type': 'application/json', 'x-sandbox-signature': sign(body), ...headers });

/** A sandbox provider body of `count` contact updates, each record padded to about `padding` characters. */
export function contactsBody(count: number, padding = 0): string {
  const events = Array.from({ length: count }, (_, i) => ({
    collection: 'contacts',
    action: 'updated',
    record: { id: i + 1, name: `contact ${i + 1}`, note: 'n'.repeat(padding) },
    at: '2026-11-24T10:00:00Z',
  }));
  return JSON.stringify({ events });
}

/**
 * Stores a receipt through the receipt store, as ingress would have (`at` defaults to the test
 * clock): for bodies ingress would refuse today, e.g. one stored before a limit applied, or one
 * that no longer parses (its mapping throws at every attempt). Answers the receipt id.
 */
export async function storeReceipt(t: TestGateway, instanceId: number, body: string, at = t.clock.now()): Promise<number> {
  await t.gateway.ctx.stores.receipts.insertNew([
    {
      instance_id: instanceId,
      received_at: at,
      content_type: 'application/json',
      headers: '{}',
      body,
      delivery_id: null,
      verified: true,
      status: 'pending',
      next_attempt_at: at,
    },
  ]);
  const [newest] = (await t.api.get(`instances/${instanceId}/webhooks/receipts?pageSize=1`)).body as unknown as Array<{ id: number }>;
  return newest.id;
}

/** A body that passed ingress once but no longer parses: mapping it throws at every attempt. */
export const BROKEN_BODY = '{"events": [';
