import { expect } from 'chai';
import { XMLParser } from 'fast-xml-parser';
import qs from 'qs';
import { serialize } from '../../src/lib/body-format.js';

/** Callback bodies read back by the parsers receivers use: the same fields come out. */
describe('callback body formats', () => {
  const notification = {
    id: 'ntf_1',
    instanceId: 7,
    instanceName: 'Acme & <Sons>',
    elementKey: 'crm',
    eventDate: '2026-11-24T10:00:00.000Z',
    events: [
      { eventType: 'UPDATED', objectType: 'contacts', objectId: '42', elementKey: 'crm', date: '2026-11-24T09:59:58.000Z', sequence: 1 },
      { eventType: 'CREATED', objectType: 'contacts', objectId: '43', elementKey: 'crm', date: '2026-11-24T09:59:59.000Z', sequence: 2 },
    ],
    raw: {
      contacts: [
        { id: 42, 'odd key': 'a&b=c', tags: ['x y', 'ü'] },
        { id: 43, 'odd key': null },
      ],
    },
  };

  it('form: nested fields as events[0][objectId]=42, odd keys and values intact', () => {
    const body = serialize(notification, 'form');
    expect(body).to.include('events[0][objectId]=42&');
    expect(body).to.include('instanceName=Acme%20%26%20%3CSons%3E');
    const parsed = qs.parse(body) as Record<string, any>;
    expect(parsed.events[1]).to.deep.equal({
      eventType: 'CREATED',
      objectType: 'contacts',
      objectId: '43',
      elementKey: 'crm',
      date: '2026-11-24T09:59:59.000Z',
      sequence: '2',
    });
    expect(parsed.raw.contacts[0]).to.deep.equal({ id: '42', 'odd key': 'a&b=c', tags: ['x y', 'ü'] });
    expect(parsed.raw.contacts[1]['odd key']).to.equal(''); // null is an empty value
    expect(new URLSearchParams(body).get('raw[contacts][0][odd key]')).to.equal('a&b=c');
  });

  it('xml: <notification> with <events><event>…, raw as JSON text', () => {
    const doc = new XMLParser({ parseTagValue: false, isArray: (name) => name === 'event' }).parse(serialize(notification, 'xml'));
    expect(doc.notification).to.include({ id: 'ntf_1', instanceId: '7', instanceName: 'Acme & <Sons>' });
    expect(doc.notification.events.event.map((e: { objectId: string }) => e.objectId)).to.deep.equal(['42', '43']);
    expect(JSON.parse(doc.notification.raw)).to.deep.equal(notification.raw);
  });

  it('xml: a scheduled event carries its data as JSON text (user keys need not be XML names)', () => {
    const scheduled = { id: 'ntf_2', event: 'onScheduledEvent', instanceId: 7, scheduleName: 'nightly', data: { 'my key': 1, '1st': { a: [1, 2] } } };
    const text = serialize(scheduled, 'xml');
    const doc = new XMLParser({ parseTagValue: false }).parse(text);
    expect(doc.notification).to.include({ event: 'onScheduledEvent', scheduleName: 'nightly' });
    expect(JSON.parse(doc.notification.data)).to.deep.equal(scheduled.data);
  });
});
