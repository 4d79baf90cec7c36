import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import type { TestGateway } from '../helpers/gateway.js';
import type { ReceivedRequest } from '../providers/receiver.js';

export const SIGNATURE_KEY = 'elements-signature-key-1';

export function dispatcher(t: TestGateway) {
  return t.gateway.delivery.dispatcher;
}

/** Verifies both signatures the way a receiver would: standardwebhooks, and a recomputed HMAC. */
export async function verifyRequest(t: TestGateway, instanceId: number, req: ReceivedRequest): Promise<void> {
  const { secret } = (await t.api.get(`instances/${instanceId}/signing-secret`)).body as unknown as { secret: string };
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
  // The package checks the timestamp against the real clock; the gateway signs with the test clock.
  const wh = new Webhook(secret);
  const ts = Number(headers['webhook-timestamp']);
  const expected = wh.sign(headers['webhook-id'], new Date(ts * 1000), req.raw.toString('utf8'));
  expect(headers['webhook-signature'].split(' ')).to.include(expected);
  const elements = `sha256=${createHmac('sha256', SIGNATURE_KEY).update(req.raw).digest('base64')}`;
  expect(headers['elements-webhook-signature']).to.equal(elements);
}
