import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { SandboxProvider } from '../../sandbox/sandbox.js';
import { Receiver } from '../providers/receiver.js';
import { contactsBody, createWebhookInstance, postSigned } from './helpers.js';

/**
 * Committed work wakes the stage that takes it: the loops run with ticks an hour apart, the manual
 * clock never moves, and an accepted webhook still reaches its callback (ingress wakes the webhook
 * processor, the processor's commit wakes the dispatcher). A callback due for a retry is not sent
 * before its time by another event's wake-up.
 */
const HOUR_TICKS = {
  webhooks: { tickSeconds: 3600 },
  delivery: { enabled: true, tickSeconds: 3600, retrySchedule: [5], retryJitter: 0 },
};

describe('wake-ups: an accepted webhook is delivered without waiting for a tick', () => {
  let t: TestGateway;
  let sandbox: SandboxProvider;
  let receiver: Receiver;

  beforeEach(async () => {
    t = await startGateway({ config: HOUR_TICKS });
    sandbox = await SandboxProvider.start();
    receiver = await Receiver.start();
  });

  afterEach(async () => {
    await t.close();
    await sandbox.close();
    await receiver.close();
  });

  it('ingress wakes the processor, the processor wakes the dispatcher; no tick, the clock unmoved', async () => {
    const instance = await createWebhookInstance(t, sandbox, { 'event.notification.callback.url': `${receiver.url}/cb` });
    t.gateway.start();
    const before = t.clock.now();
    const res = await postSigned(instance.hookUrl, contactsBody(2));
    expect(res.statusCode).to.equal(202);
    const [delivered] = await receiver.waitFor(1, 10_000);
    const body = delivered.body as { events: Array<{ objectId: string; eventType: string }> };
    expect(body.events.map((e) => [e.eventType, e.objectId])).to.deep.equal([
      ['UPDATED', '1'],
      ['UPDATED', '2'],
    ]);
    expect(t.clock.now()).to.equal(before);
  });

  it('a wake-up does not send a callback that waits for its retry before its time', async () => {
    const instance = await createWebhookInstance(t, sandbox, { 'event.notification.callback.url': `${receiver.url}/cb` });
    t.gateway.start();
    receiver.respondWith({ status: 500 });
    expect((await postSigned(instance.hookUrl, contactsBody(1))).statusCode).to.equal(202);
    await receiver.waitFor(1, 10_000);
    // Another webhook wakes both stages again: only its own notification goes out.
    expect((await postSigned(instance.hookUrl, contactsBody(3, 5))).statusCode).to.equal(202);
    const [, second] = await receiver.waitFor(2, 10_000);
    expect((second.body as { events: unknown[] }).events).to.have.length(3);
    // Nothing else is due now (drain ticks until a pass finds nothing).
    expect(await t.gateway.delivery.dispatcher.drain()).to.be.at.most(1);
    expect(receiver.received).to.have.length(2);
    // Its retry is due 5 s later on the gateway clock: a tick then sends it.
    t.clock.advance(5_000);
    await t.gateway.delivery.dispatcher.tick();
    await receiver.waitFor(3, 10_000);
    expect((receiver.received[2].body as { events: unknown[] }).events).to.have.length(1);
  });
});
