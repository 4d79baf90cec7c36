import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { listEvents, pollNow } from '../poller/helpers.js';
import { type Emulator, emulateDescription } from './description-emulator.js';

const description = readFileSync(new URL('./acme-tasks.yaml', import.meta.url), 'utf8');
type Draft = {
  connector: Record<string, unknown> & { key: string };
  report: { objects: Array<{ objectType: string; included: boolean; todo: string[] }>; webhooks: unknown[] };
};

/**
 * A description of our own, drafted through the API, registered as it came out, and polled against
 * an emulator generated from the same description (which refuses any request the description does
 * not allow): the draft works without a hand edit.
 */
describe('connector drafts: from a description to events', () => {
  let t: TestGateway;
  let emulator: Emulator;

  beforeEach(async () => {
    t = await startGateway();
    emulator = await emulateDescription(description, { name: 'X-Api-Key', value: 'acme-key-123' });
    emulator.provider.now = () => t.clock.now();
  });

  afterEach(async () => {
    await t.close();
    await emulator.close();
  });

  it('drafts, registers, creates an instance and polls tasks and users into events', async () => {
    const drafted = await t.api.post('connectors/draft', { body: description, headers: { 'content-type': 'application/yaml' } });
    expect(drafted.statusCode, JSON.stringify(drafted.body)).to.equal(200);
    const { connector, report } = drafted.body as unknown as Draft;
    expect(connector.key).to.equal('acme-tasks');
    expect(report.objects.map((o) => [o.objectType, o.included])).to.deep.equal([
      ['tasks', true],
      ['users', true],
    ]);
    expect(report.webhooks).to.deep.equal([
      {
        event: 'task.updated',
        from: '#/webhooks/task.updated/post',
        payload: '#/webhooks/task.updated/post/requestBody/content/application~1json/schema',
        idField: '$.data.id',
      },
    ]);
    // Nothing was stored by drafting.
    expect((await t.api.get('elements/acme-tasks')).statusCode).to.equal(404);

    expect((await t.api.post('elements', { json: connector })).statusCode).to.equal(201);
    const created = await t.api.post('instances', {
      json: {
        element: { key: 'acme-tasks' },
        name: 'Acme',
        configuration: {
          'base.url': emulator.provider.url,
          'api.key': 'acme-key-123',
          'acme-tasks.project_id': 'p-1',
          'event.vendor.type': 'polling',
          'event.poller.refresh_interval': '5',
        },
      },
    });
    expect(created.statusCode, JSON.stringify(created.body)).to.equal(201);
    const id = (created.body as unknown as { id: number }).id;

    // Changes after the instance was created: 120 tasks (three pages of 50) and two users.
    t.clock.advance(60_000);
    const at = (s: number) => new Date(t.clock.now() + s * 1000).toISOString();
    emulator.records.set(
      'listTasks',
      Array.from({ length: 120 }, (_, i) => ({ id: `t${i}`, title: `Task ${i}`, created_at: at(i), updated_at: at(i) })),
    );
    emulator.records.set('listUsers', [
      { user_id: 7, name: 'Ada', modified: Math.floor(t.clock.now() / 1000) + 5 },
      { user_id: 8, name: 'Grace', modified: Math.floor(t.clock.now() / 1000) + 6 },
    ]);
    t.clock.advance(120_000);
    const polled = await pollNow(t, id);
    expect(emulator.refused).to.deep.equal([]);
    expect(polled.tasks).to.include({ fetched: 120, created: 120 });
    expect(polled.users).to.include({ fetched: 2, created: 2 });

    const events = await listEvents(t, id);
    expect(events.filter((e) => e.objectType === 'tasks')).to.have.length(120);
    expect(
      events
        .filter((e) => e.objectType === 'users')
        .map((e) => e.objectId)
        .sort(),
    ).to.deep.equal(['7', '8']);
    const taskRequests = emulator.provider.requests.filter((r) => r.path === '/projects/p-1/tasks');
    expect(taskRequests.map((r) => [r.query.page, r.query.per_page])).to.deep.equal([
      ['1', '50'],
      ['2', '50'],
      ['3', '50'],
    ]);
    expect(taskRequests[0].query.updated_since).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });
});
