import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { Receiver } from '../providers/receiver.js';
import { createInstance, pollNow, providerConnector, registerConnector } from '../poller/helpers.js';
import { dispatcher } from '../delivery/helpers.js';

const HOUR = 3_600_000;

/** GET /instances/:id/activity: events and deliveries per whole UTC hour over the last 24, from the tables. */
describe('instance activity per hour', () => {
  let t: TestGateway;
  let provider: EmulatedProvider;
  let receiver: Receiver;

  beforeEach(async () => {
    t = await startGateway();
    provider = await EmulatedProvider.start();
    provider.now = () => t.clock.now();
    receiver = await Receiver.start();
    await registerConnector(t, providerConnector('actcrm'));
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
    await receiver.close();
  });

  it('counts events by when they were recorded and notifications by when they were delivered', async () => {
    const { id } = await createInstance(t, 'actcrm', provider.url, { 'event.notification.callback.url': `${receiver.url}/cb` });
    const contacts = provider.collection('contacts');
    t.clock.advance(1000);
    contacts.upsert({ name: 'Ada' });
    contacts.upsert({ name: 'Lin' });
    t.clock.advance(1000);
    await pollNow(t, id);
    const firstHour = Math.floor(t.clock.now() / HOUR) * HOUR;
    t.clock.advance(3 * HOUR);
    await dispatcher(t).drain();
    await dispatcher(t).idle();
    contacts.upsert({ name: 'Kim' });
    t.clock.advance(1000);
    await pollNow(t, id);

    const res = await t.api.get(`instances/${id}/activity`);
    expect(res.statusCode).to.equal(200);
    const body = res.body as unknown as { from: string; to: string; hours: Array<{ hour: string; events: number; deliveries: number }> };
    expect(body.hours).to.have.length(24);
    expect(Date.parse(body.to) - Date.parse(body.from)).to.equal(24 * HOUR);
    const at = (ms: number) => body.hours.find((h) => h.hour === new Date(ms).toISOString())!;
    expect(at(firstHour)).to.deep.include({ events: 2, deliveries: 0 });
    expect(at(firstHour + 3 * HOUR)).to.deep.include({ events: 1, deliveries: 1 });
    expect(body.hours.reduce((n, h) => n + h.events, 0)).to.equal(3);

    expect((await t.api.get('instances/999/activity')).statusCode).to.equal(404);
    expect((await t.api.get('instances/abc/activity')).statusCode).to.equal(400);
  });
});
