import { expect } from 'chai';
import { XMLParser } from 'fast-xml-parser';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../providers/provider-server.js';
import { Receiver } from '../providers/receiver.js';
import { createInstance, pollNow, providerConnector, registerConnector } from '../poller/helpers.js';
import { dispatcher } from './helpers.js';

describe('templated callbacks', () => {
  let t: TestGateway;
  let provider: EmulatedProvider;
  let receiver: Receiver;

  beforeEach(async () => {
    t = await startGateway();
    provider = await EmulatedProvider.start();
    provider.now = () => t.clock.now();
    receiver = await Receiver.start();
    await registerConnector(t, providerConnector('crm'));
  });

  afterEach(async () => {
    await t.close();
    await provider.close();
    await receiver.close();
  });

  async function run(format: 'json' | 'xml' | 'form', template: string, extra: Record<string, unknown> = {}) {
    const { id } = await createInstance(t, 'crm', provider.url, {
      'event.notification.callback.url': `${receiver.url}/objects/<%= event.objectType %>/<%= event.objectId %>`,
      'event.notification.callback.format': format,
      'event.notification.callback.template': template,
      ...extra,
    });
    t.clock.advance(60_000);
    provider.collection('contacts').upsert({ name: 'Ada "the first"', address: { city: 'London' } });
    provider.collection('contacts').upsert({ name: 'Grace', address: { city: 'Arlington' } });
    await pollNow(t, id);
    await dispatcher(t).drain();
    return { id, requests: await receiver.waitFor(2) };
  }

  it('sends one JSON request per event with tags in the body and the URL, and stores the response mapping', async () => {
    receiver.defaultBody = { ticket: { id: 'T-9' }, ok: true };
    const { requests } = await run('json', '{"ref": "<%= event.objectId %>", "kind": "<%= event.eventType %>", "who": "<%= raw.name %>", "city": "<%= raw.address.city %>", "by": "<%= instance.name %>"}', {
      'event.notification.callback.responseMapping': { ticketId: '$.ticket.id' },
    });
    expect(requests.map((r) => r.path)).to.deep.equal(['/objects/contacts/1', '/objects/contacts/2']);
    expect(requests[0].body).to.deep.equal({ ref: '1', kind: 'CREATED', who: 'Ada "the first"', city: 'London', by: 'crm test' });
    expect(requests[1].body).to.deep.include({ ref: '2', city: 'Arlington' });
    expect(requests[0].headers['webhook-id']).to.equal(requests[1].headers['webhook-id']);
    const [n] = await t.gateway.db('notifications').select('id');
    const notification = (await t.api.get(`notifications/${n.id}`)).body as unknown as { status: string; responseData: unknown };
    expect(notification).to.deep.include({ status: 'delivered', responseData: { ticketId: 'T-9' } });
  });

  it('renders XML and form templates with the right escaping', async () => {
    const xml = await run('xml', '<contact id="<%= event.objectId %>"><name><%= raw.name %></name></contact>');
    const parsed = new XMLParser({ ignoreAttributes: false }).parse(xml.requests[0].raw.toString());
    expect(parsed.contact).to.deep.include({ '@_id': '1', name: 'Ada "the first"' });
    receiver.received.length = 0;
    await t.gateway.db('notifications').delete();
    const form = await run('form', 'id=<%= event.objectId %>&name=<%= raw.name %>&type=<%= event.eventType %>');
    // The second instance sees the next two records (ids 3 and 4).
    expect(form.requests.map((r) => r.body)).to.deep.include({ id: '3', name: 'Ada "the first"', type: 'CREATED' });
  });

  it('refuses a template that references unknown tags', async () => {
    const res = await t.api.post('instances', {
      json: { element: { key: 'crm' }, configuration: { base_url: provider.url, api_key: 'k', 'event.notification.callback.url': `${receiver.url}/x`, 'event.notification.callback.template': '{"a": "<%= event.secretThing %>"}' } },
    });
    expect(res.statusCode).to.equal(400);
    expect(JSON.stringify(res.body)).to.include('unknown tag \\"<%= event.secretThing %>\\"');
  });
});
