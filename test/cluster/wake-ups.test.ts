import { expect } from 'chai';
import { ManualClock } from '../../src/clock.js';
import { dropSchema, newSchemaName, startGateway, usePostgres, type TestGateway } from '../helpers/gateway.js';
import { SandboxProvider } from '../../sandbox/sandbox.js';
import { Receiver } from '../providers/receiver.js';
import { contactsBody, createWebhookInstance, postSigned } from '../webhooks/helpers.js';

/**
 * Wake-ups across nodes (PostgreSQL LISTEN/NOTIFY): two gateways on one schema, their loops
 * ticking once an hour and the shared manual clock never moving. A webhook accepted by node A is
 * mapped and delivered by node B, woken by A's NOTIFYs.
 */
const HOUR_TICKS = {
  webhooks: { tickSeconds: 3600 },
  delivery: { enabled: true, tickSeconds: 3600 },
  database: { poolMax: 3 },
};

describe('wake-ups across nodes (PostgreSQL)', () => {
  if (!usePostgres) return;
  let a: TestGateway;
  let b: TestGateway;
  let schema: string;
  let sandbox: SandboxProvider;
  let receiver: Receiver;

  beforeEach(async () => {
    schema = newSchemaName();
    const clock = new ManualClock();
    a = await startGateway({ schema, clock, config: { ...HOUR_TICKS, node: { id: 'node-a' } } });
    b = await startGateway({ schema, clock, config: { ...HOUR_TICKS, node: { id: 'node-b' } } });
    sandbox = await SandboxProvider.start();
    receiver = await Receiver.start();
  });

  afterEach(async () => {
    await a.close();
    await b.close();
    await dropSchema(schema);
    await sandbox.close();
    await receiver.close();
  });

  it('node A only receives; node B, woken by NOTIFY, maps the receipt and delivers it', async () => {
    const instance = await createWebhookInstance(a, sandbox, { 'event.notification.callback.url': `${receiver.url}/cb` });
    b.gateway.start();
    await b.gateway.ctx.wakeUps.listening();
    const before = a.clock.now();
    expect((await postSigned(instance.hookUrl, contactsBody(2))).statusCode).to.equal(202);
    const [delivered] = await receiver.waitFor(1, 10_000);
    expect((delivered.body as { events: unknown[] }).events).to.have.length(2);
    await b.gateway.delivery.dispatcher.idle();
    const attempts = await b.gateway.db('attempts').select('node');
    expect(attempts.map((r) => r.node)).to.deep.equal(['node-b']);
    const receipts = await b.gateway.db('webhook_receipts').select('status', 'lease_owner');
    expect(receipts.map((r) => r.status)).to.deep.equal(['processed']);
    expect(a.clock.now()).to.equal(before);
  });

  it('node A maps (its dispatcher off); node B delivers on the delivery channel', async () => {
    const instance = await createWebhookInstance(a, sandbox, { 'event.notification.callback.url': `${receiver.url}/cb` });
    a.config.delivery.enabled = false;
    a.gateway.start();
    // B runs its dispatcher and hears wake-ups; mapping is A's alone.
    b.gateway.delivery.dispatcher.start();
    b.gateway.ctx.wakeUps.start();
    await Promise.all([a.gateway.ctx.wakeUps.listening(), b.gateway.ctx.wakeUps.listening()]);
    expect((await postSigned(instance.hookUrl, contactsBody(3))).statusCode).to.equal(202);
    const [delivered] = await receiver.waitFor(1, 10_000);
    expect((delivered.body as { events: unknown[] }).events).to.have.length(3);
    expect(await a.gateway.db('webhook_receipts').pluck('status')).to.deep.equal(['processed']);
    await b.gateway.delivery.dispatcher.idle();
    const attempts = await b.gateway.db('attempts').select('node');
    expect(attempts.map((r) => r.node)).to.deep.equal(['node-b']);
  });

  it('node B listens again after its LISTEN connection is cut, and is woken as before', async () => {
    const instance = await createWebhookInstance(a, sandbox, { 'event.notification.callback.url': `${receiver.url}/cb` });
    b.gateway.start();
    await b.gateway.ctx.wakeUps.listening();
    const cut = await b.gateway.db.raw("SELECT pg_terminate_backend(pid) AS cut FROM pg_stat_activity WHERE application_name = 'pollgate wake-ups node-b'");
    expect(cut.rows).to.deep.equal([{ cut: true }]);
    // The loss is seen, then the connection is opened again (after half a second).
    for (
      let i = 0;
      i < 100 && (await b.gateway.db.raw("SELECT 1 FROM pg_stat_activity WHERE application_name = 'pollgate wake-ups node-b'")).rows.length > 0;
      i++
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await b.gateway.ctx.wakeUps.listening();
    expect((await postSigned(instance.hookUrl, contactsBody(1))).statusCode).to.equal(202);
    await receiver.waitFor(1, 10_000);
    await b.gateway.delivery.dispatcher.idle();
    expect(await b.gateway.db('attempts').pluck('node')).to.deep.equal(['node-b']);
  });
});
