import { expect } from 'chai';
import got from 'got';
import { API_TOKEN, startGateway, type TestGateway } from '../helpers/gateway.js';
import { SandboxProvider } from '../../sandbox/sandbox.js';
import { listEvents } from '../poller/helpers.js';
import { BROKEN_BODY, contactsBody, createWebhookInstance, postSigned, storeReceipt } from './helpers.js';

/**
 * Receipts whose mapping keeps failing: after `webhooks.maxAttempts` attempts (an attempt cut short
 * by a crash counts: it is counted when claimed, before mapping) a receipt is parked as `failed`,
 * listed by the API, counted in the metrics, and queued again by an operator's retry.
 */
describe('webhook receipts that keep failing are parked', () => {
  let t: TestGateway;
  let sandbox: SandboxProvider;
  const MAX_ATTEMPTS = 3;
  const HOUR = 3_600_000;

  beforeEach(async () => {
    t = await startGateway({ config: { webhooks: { maxAttempts: MAX_ATTEMPTS } } });
    sandbox = await SandboxProvider.start();
  });

  afterEach(async () => {
    await t.close();
    await sandbox.close();
  });

  const processor = () => t.gateway.webhooks.processor;
  type Receipt = { id: number; status: string; attempts: number; reason: string | null; eventsCount: number; nextAttemptDate: string | null };
  const receipt = async (instanceId: number, id: number) => (await t.api.get(`instances/${instanceId}/webhooks/receipts/${id}`)).body as unknown as Receipt;
  const listed = async (instanceId: number, query: string) =>
    (await t.api.get(`instances/${instanceId}/webhooks/receipts${query}`)).body as unknown as Receipt[];
  const metrics = async () => got(`${t.url}/metrics`, { headers: { authorization: `Bearer ${API_TOKEN}` } }).text();

  it('a receipt whose mapping always throws is parked after webhooks.maxAttempts, shown by the API and the metrics, and retried by an operator', async () => {
    const { id: instanceId } = await createWebhookInstance(t, sandbox);
    const id = await storeReceipt(t, instanceId, BROKEN_BODY);

    for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt++) {
      expect(await processor().tick()).to.equal(1);
      const pending = await receipt(instanceId, id);
      expect(pending).to.include({ status: 'pending', attempts: attempt });
      expect(pending.reason).to.match(/JSON/);
      expect(Date.parse(pending.nextAttemptDate!)).to.be.greaterThan(t.clock.now());
      t.clock.advance(HOUR);
    }
    expect(await processor().tick()).to.equal(1);
    const parked = await receipt(instanceId, id);
    expect(parked).to.include({ status: 'failed', attempts: MAX_ATTEMPTS, nextAttemptDate: null });
    expect(parked.reason).to.match(/JSON/);
    // Parked: never tried again by itself.
    t.clock.advance(24 * HOUR);
    expect(await processor().tick()).to.equal(0);

    expect((await listed(instanceId, '?status=failed')).map((r) => r.id)).to.deep.equal([id]);
    expect(await listed(instanceId, '?status=pending')).to.deep.equal([]);
    const bad = await t.api.get(`instances/${instanceId}/webhooks/receipts?status=broken`);
    expect(bad.statusCode).to.equal(400);
    expect((bad.body as unknown as { message: string }).message).to.equal('status must be one of pending, processed, failed');
    const text = await metrics();
    expect(text).to.match(/^pollgate_webhook_receipts_failed_total 1$/m);
    expect(text).to.match(/^pollgate_webhook_receipts_failed 1$/m);

    // Retry: pending again, due now, with a full set of attempts; only a failed receipt can be retried.
    const retried = await t.api.post(`instances/${instanceId}/webhooks/receipts/${id}/retry`);
    expect(retried.statusCode).to.equal(202);
    expect(retried.body).to.include({ id, status: 'pending', attempts: 0 });
    const again = await t.api.post(`instances/${instanceId}/webhooks/receipts/${id}/retry`);
    expect(again.statusCode).to.equal(409);
    expect((again.body as unknown as { message: string }).message).to.equal(`webhook receipt ${id} is pending: only a failed receipt is retried`);
    expect((await t.api.post(`instances/${instanceId}/webhooks/receipts/99999/retry`)).statusCode).to.equal(404);
    expect(await metrics()).to.match(/^pollgate_webhook_receipts_failed 0$/m);
    expect(await listed(instanceId, '?status=failed')).to.deep.equal([]);
    expect(await processor().tick()).to.equal(1);
    expect(await receipt(instanceId, id)).to.include({ status: 'pending', attempts: 1 });
  });

  it('an attempt counts from its claim, before mapping: a receipt whose mapping a crash cut short each time is parked without a further attempt', async () => {
    const { id: instanceId, hookUrl } = await createWebhookInstance(t, sandbox);
    expect((await postSigned(hookUrl, contactsBody(2))).statusCode).to.equal(202);
    const [{ id }] = await listed(instanceId, '');
    const { receipts } = t.gateway.ctx.stores;

    // What a node that dies while mapping leaves behind: the claim, never settled, its lease running out.
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const claimed = await receipts.claimDue({ now: t.clock.now(), owner: 'node-that-dies', leaseMs: 60_000, limit: 10, retried: attempt > 1 });
      expect(claimed.map((r) => [r.id, r.attempts])).to.deep.equal([[id, attempt]]);
      t.clock.advance(60_001);
    }
    expect(await receipt(instanceId, id)).to.include({ status: 'pending', attempts: MAX_ATTEMPTS });

    expect(await processor().tick()).to.equal(1);
    const parked = await receipt(instanceId, id);
    expect(parked).to.include({ status: 'failed', attempts: MAX_ATTEMPTS, eventsCount: 0 });
    expect(parked.reason).to.equal(`mapping did not finish in ${MAX_ATTEMPTS} attempts: the gateway stopped or crashed while mapping this receipt`);
    expect(await listEvents(t, instanceId)).to.have.length(0);
    expect(await metrics()).to.match(/^pollgate_webhook_receipts_failed_total 1$/m);

    // Once the cause is gone, the operator's retry maps it.
    expect((await t.api.post(`instances/${instanceId}/webhooks/receipts/${id}/retry`)).statusCode).to.equal(202);
    expect(await processor().tick()).to.equal(1);
    expect(await receipt(instanceId, id)).to.include({ status: 'processed', attempts: 1, eventsCount: 2, reason: null });
    expect(await listEvents(t, instanceId)).to.have.length(2);
  });

  it('a processor that stops after claiming gives the receipts back without counting an attempt', async () => {
    const { id: instanceId, hookUrl } = await createWebhookInstance(t, sandbox);
    for (const n of [1, 2]) expect((await postSigned(hookUrl, contactsBody(n))).statusCode).to.equal(202);
    // The pass claims at once; the stop comes while that claim is in flight, before any mapping.
    const pass = processor().tick();
    await processor().stop(0);
    expect(await pass).to.equal(2);
    expect((await listed(instanceId, '')).map((r) => [r.status, r.attempts])).to.deep.equal([
      ['pending', 0],
      ['pending', 0],
    ]);
    // Due again at once, not held by a lease.
    processor().start();
    expect(await processor().tick()).to.equal(2);
    expect((await listed(instanceId, '')).map((r) => [r.status, r.attempts])).to.deep.equal([
      ['processed', 1],
      ['processed', 1],
    ]);
    await processor().stop(0);
  });
});
