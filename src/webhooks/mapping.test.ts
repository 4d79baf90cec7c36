import { expect } from 'chai';
import { JSONPath } from 'jsonpath-plus';
import { DefinitionError } from '../errors.js';
import { parseWebhookBody } from './parse-body.js';
import { compileJsonPath } from '../lib/json-path.js';
import { mapWebhookBody, validateMapping, type WebhookEventsMapping } from '../connectors/event-mapping.js';

const NOW = Date.parse('2026-11-24T10:00:00Z');
const NOW_ISO = new Date(NOW).toISOString();
const summary = (r: ReturnType<typeof mapWebhookBody>) => r.events.map((e) => [e.objectType, e.objectId, e.eventType, e.date]);

/** The example connector of docs/connectors.md ("Webhooks"). */
const designExample: WebhookEventsMapping = {
  itemsPath: '$.events[*]',
  objectType: '$.type',
  objectId: ['$.data.id', '$.id'],
  eventType: { from: '$.action', map: { created: 'CREATED', updated: 'UPDATED', deleted: 'DELETED' }, default: 'UPDATED' },
  date: '$.occurred_at',
};

describe('webhook event mapping', () => {
  it('maps the items of the example connector, with fallbacks, value maps and defaults', () => {
    const body = {
      events: [
        { type: 'incidents', action: 'created', data: { id: 42 }, occurred_at: '2026-11-24T09:59:58Z' },
        { type: 'incidents', action: 'deleted', id: 'x-1', occurred_at: '2026-11-24T09:00:00+01:00' },
        { type: 'contacts', action: 'merged', data: { id: 7 } },
        { type: 'contacts', action: 'created' },
      ],
    };
    const result = mapWebhookBody(designExample, body, {}, NOW);
    expect(summary(result)).to.deep.equal([
      ['incidents', '42', 'CREATED', '2026-11-24T09:59:58.000Z'],
      ['incidents', 'x-1', 'DELETED', '2026-11-24T08:00:00.000Z'],
      ['contacts', '7', 'UPDATED', NOW_ISO],
    ]);
    expect(result.events[0].raw).to.equal(body.events[0]);
    expect(result.unmapped).to.deep.equal([{ index: 3, reason: 'no objectId at $.data.id, $.id', item: body.events[3] }]);
  });

  it('reads items from a path naming the array, the array with [*], a filter, or the body itself', () => {
    const body = {
      events: [
        { id: 1, k: 'a' },
        { id: 2, k: 'b' },
      ],
    };
    const base = { objectType: '=things', objectId: '$.id', eventType: '=UPDATED' };
    const ids = (itemsPath: string | undefined, json: unknown = body) => mapWebhookBody({ ...base, itemsPath }, json, {}, NOW).events.map((e) => e.objectId);
    expect(ids('$.events')).to.deep.equal(['1', '2']);
    expect(ids('$.events[*]')).to.deep.equal(['1', '2']);
    expect(ids("$.events[?(@.k=='b')]")).to.deep.equal(['2']);
    expect(ids('$.events[1:]')).to.deep.equal(['2']);
    expect(ids(undefined, { id: 9 })).to.deep.equal(['9']);
    expect(ids('$', { id: 9 })).to.deep.equal(['9']);
    expect(ids(undefined, [{ id: 3 }, { id: 4 }])).to.deep.equal(['3', '4']); // HubSpot sends a JSON array
  });

  it('reports a body without items once, and an empty list as an empty batch', () => {
    const mapping = { itemsPath: '$.events', objectType: '=t', objectId: '$.id', eventType: '=UPDATED' };
    expect(mapWebhookBody(mapping, { other: 1 }, {}, NOW)).to.deep.equal({
      events: [],
      unmapped: [{ index: 0, reason: 'no items at $.events', item: { other: 1 } }],
    });
    expect(mapWebhookBody(mapping, { events: [] }, {}, NOW)).to.deep.equal({ events: [], unmapped: [] });
    expect(mapWebhookBody(mapping, 'text', {}, NOW).unmapped[0].reason).to.equal('no items at $.events');
    expect(mapWebhookBody(mapping, null, {}, NOW).unmapped[0].reason).to.equal('no items at $.events');
  });

  it('takes values from headers (GitHub style), any case, and literals', () => {
    const mapping: WebhookEventsMapping = {
      objectType: 'header:X-GitHub-Event',
      objectId: ['$.issue.number', '$.pull_request.number'],
      eventType: { from: '$.action', map: { opened: 'CREATED', closed: 'UPDATED' } },
    };
    const result = mapWebhookBody(mapping, { action: 'opened', issue: { number: 12 } }, { 'x-github-event': 'issues', 'x-github-delivery': 'd1' }, NOW);
    expect(result.events).to.deep.equal([
      {
        objectType: 'issues',
        objectId: '12',
        eventType: 'CREATED',
        date: NOW_ISO,
        raw: { action: 'opened', issue: { number: 12 } },
        record: { action: 'opened', issue: { number: 12 } },
      },
    ]);
    const upper = mapWebhookBody(mapping, { action: 'closed', pull_request: { number: 5 } }, { 'X-GitHub-Event': ['pull_request', 'ignored'] }, NOW);
    expect(summary(upper)).to.deep.equal([['pull_request', '5', 'UPDATED', NOW_ISO]]);
    const noHeader = mapWebhookBody(mapping, { action: 'opened', issue: { number: 12 } }, {}, NOW);
    expect(noHeader.unmapped[0].reason).to.equal('no objectType at header:X-GitHub-Event');

    const literal = mapWebhookBody({ objectType: '=tickets', objectId: '$.id', eventType: '=deleted' }, { id: 'T-1' }, {}, NOW);
    expect(summary(literal)).to.deep.equal([['tickets', 'T-1', 'DELETED', NOW_ISO]]);
  });

  it('treats null, "", objects and arrays as no value and tries the next alternative', () => {
    const mapping = { objectType: ['$.type', '$.kind', '=fallback'], objectId: ['$.id', '$.ref'], eventType: '=UPDATED' };
    const items = [
      { type: null, kind: '', id: { nested: 1 }, ref: 'r1' },
      { type: ['a'], id: 0 },
      { type: 'x', id: '' },
    ];
    const result = mapWebhookBody({ ...mapping, itemsPath: '$[*]' }, items, {}, NOW);
    expect(result.events.map((e) => [e.objectType, e.objectId])).to.deep.equal([
      ['fallback', 'r1'],
      ['fallback', '0'],
    ]);
    expect(result.unmapped.map((u) => [u.index, u.reason])).to.deep.equal([[2, 'no objectId at $.id, $.ref']]);
  });

  it('always gives objectId as a string', () => {
    const result = mapWebhookBody(
      { itemsPath: '$[*]', objectType: '=t', objectId: '$.id', eventType: '=UPDATED' },
      [{ id: 42 }, { id: 4.5 }, { id: true }, { id: 'abc' }],
      {},
      NOW,
    );
    expect(result.events.map((e) => e.objectId)).to.deep.equal(['42', '4.5', 'true', 'abc']);
  });

  describe('event types', () => {
    const typeOf = (eventType: WebhookEventsMapping['eventType'], item: unknown, headers = {}) =>
      mapWebhookBody({ objectType: '=t', objectId: '=1', eventType }, item, headers, NOW).events[0].eventType;

    it('uses the map exactly, then ignoring case; then the raw value if it is one of the four; then the default', () => {
      const mapping = { from: '$.action', map: { 'ticket.created': 'CREATED', Removed: 'deleted' }, default: 'UPDATED' };
      expect(typeOf(mapping, { action: 'ticket.created' })).to.equal('CREATED');
      expect(typeOf(mapping, { action: 'TICKET.CREATED' })).to.equal('CREATED');
      expect(typeOf(mapping, { action: 'removed' })).to.equal('DELETED');
      expect(typeOf(mapping, { action: 'deleted' })).to.equal('DELETED');
      expect(typeOf(mapping, { action: 'Unknown' })).to.equal('UNKNOWN');
      expect(typeOf(mapping, { action: 'archived' })).to.equal('UPDATED');
      expect(typeOf(mapping, {})).to.equal('UPDATED');
    });

    it('falls back to UNKNOWN without a default, and maps booleans and numbers by their text', () => {
      expect(typeOf('$.action', { action: 'archived' })).to.equal('UNKNOWN');
      expect(typeOf('$.action', { action: 'created' })).to.equal('CREATED');
      expect(typeOf({ from: '$.deleted', map: { true: 'DELETED', false: 'UPDATED' } }, { deleted: true })).to.equal('DELETED');
      expect(typeOf({ from: '$.code', map: { 1: 'CREATED' } }, { code: 1 })).to.equal('CREATED');
      expect(typeOf({ from: ['header:X-Event', '$.action'] }, { action: 'updated' }, { 'x-event': 'created' })).to.equal('CREATED');
    });
  });

  describe('dates', () => {
    const dateOf = (value: unknown) =>
      mapWebhookBody({ objectType: '=t', objectId: '=1', eventType: '=UPDATED', date: '$.at' }, { at: value }, {}, NOW).events[0].date;

    it('reads ISO strings, RFC 2822, epoch seconds and ms as numbers or digit strings', () => {
      expect(dateOf('2026-11-24T09:59:00Z')).to.equal('2026-11-24T09:59:00.000Z');
      expect(dateOf('2026-11-24T10:59:00.5+01:00')).to.equal('2026-11-24T09:59:00.500Z');
      expect(dateOf('Tue, 24 Nov 2026 09:59:00 GMT')).to.equal('2026-11-24T09:59:00.000Z');
      expect(dateOf(1795514340)).to.equal('2026-11-24T09:59:00.000Z');
      expect(dateOf(1795514340123)).to.equal('2026-11-24T09:59:00.123Z');
      expect(dateOf('1795514340')).to.equal('2026-11-24T09:59:00.000Z');
      expect(dateOf('1795514340.250')).to.equal('2026-11-24T09:59:00.250Z'); // Slack's event_ts
      expect(dateOf('1795514340123')).to.equal('2026-11-24T09:59:00.123Z');
    });

    it('uses the receive time when there is no date or it does not parse', () => {
      for (const value of [undefined, null, '', 'soon', {}, true, 1e300, '99999999999999999999']) expect(dateOf(value), String(value)).to.equal(NOW_ISO);
      expect(mapWebhookBody({ objectType: '=t', objectId: '=1', eventType: '=UPDATED' }, {}, {}, NOW).events[0].date).to.equal(NOW_ISO);
    });
  });

  it('maps parsed XML and form bodies', () => {
    const xmlMapping = { itemsPath: '$.notifications.notification', objectType: '$.`@_object', objectId: '$.id', eventType: '$.change' };
    const one = parseWebhookBody(
      Buffer.from('<notifications><notification object="orders"><id>0042</id><change>created</change></notification></notifications>'),
      'text/xml',
    );
    expect(summary(mapWebhookBody(xmlMapping, one, {}, NOW))).to.deep.equal([['orders', '0042', 'CREATED', NOW_ISO]]);
    const two = parseWebhookBody(
      Buffer.from(
        '<notifications><notification object="a"><id>1</id><change>updated</change></notification><notification object="b"><id>2</id><change>deleted</change></notification></notifications>',
      ),
      'text/xml',
    );
    expect(summary(mapWebhookBody(xmlMapping, two, {}, NOW))).to.deep.equal([
      ['a', '1', 'UPDATED', NOW_ISO],
      ['b', '2', 'DELETED', NOW_ISO],
    ]);

    const form = parseWebhookBody(Buffer.from('type=contact&id=17&event=deleted'), 'application/x-www-form-urlencoded');
    expect(summary(mapWebhookBody({ objectType: '$.type', objectId: '$.id', eventType: '$.event' }, form, {}, NOW))).to.deep.equal([
      ['contact', '17', 'DELETED', NOW_ISO],
    ]);
  });

  it('@key and @path read where an item sits: records keyed by their ids, and which list they are in', () => {
    const body = { tables: { t1: { created: { recA: { n: 1 } }, changed: { recB: { current: { n: 2 } } }, removed: ['recC', 'recD'] } } };
    const mapping: WebhookEventsMapping = {
      itemsPath: '$.tables.*[created,changed,removed].*',
      objectType: '=records',
      objectId: ['$', '@key'],
      eventType: { from: '@path', pattern: "\\['(created|changed|removed)'\\]", map: { created: 'CREATED', changed: 'UPDATED', removed: 'DELETED' } },
      recordPath: ['$.current', '$'],
    };
    const { events, unmapped } = mapWebhookBody(mapping, body, {}, NOW);
    expect(unmapped).to.deep.equal([]);
    expect(events.map((e) => [e.eventType, e.objectId, e.record])).to.deep.equal([
      ['CREATED', 'recA', { n: 1 }],
      ['UPDATED', 'recB', { n: 2 }],
      ['DELETED', 'recC', undefined],
      ['DELETED', 'recD', undefined],
    ]);
    // An array node's elements sit under their indexes.
    const indexed = mapWebhookBody({ itemsPath: '$.list', objectType: '=t', objectId: '@key', eventType: { from: '@path' } }, { list: [{}, {}] }, {}, NOW);
    expect(indexed.events.map((e) => e.objectId)).to.deep.equal(['0', '1']);
  });

  describe('validateMapping', () => {
    const valid = { objectType: '=t', objectId: '$.id', eventType: '=UPDATED' };
    const refuses = (mapping: unknown, message: RegExp) => expect(() => validateMapping(mapping as WebhookEventsMapping)).to.throw(DefinitionError, message);

    it('accepts the documented forms', () => {
      expect(() => validateMapping(designExample)).not.to.throw();
      expect(() =>
        validateMapping({
          itemsPath: "$.data[?(@.kind == 'x' && @.n > 1)]",
          objectType: ['header:X-Event', "$['object type']", '$.`@_kind', '$.a[*]@string()'],
          objectId: '$.ids[0]',
          eventType: { from: '$..action' },
          date: '$.at',
          recordPath: '$.record',
        }),
      ).not.to.throw();
    });

    it('refuses malformed JSONPaths, naming the field', () => {
      refuses({ ...valid, objectId: '$.[' }, /^objectId: "\$\.\[" is not a valid JSONPath: unclosed "\["/);
      refuses({ ...valid, objectId: ['$.id', '$.data['] }, /^objectId\[1\]: .*unclosed "\["/);
      refuses({ ...valid, objectId: "$['a" }, /unclosed '/);
      refuses({ ...valid, objectId: '$.a]' }, /"\]" without a matching "\["/);
      refuses({ ...valid, objectId: '$.a.' }, /ends with "\."/);
      refuses({ ...valid, objectId: '$abc' }, /must start with "\$", "\$\." or "\$\["/);
      refuses({ ...valid, objectId: '$[]' }, /empty step/);
      refuses({ ...valid, itemsPath: '$.events[?(@.x = = 1)]' }, /^itemsPath: .*is not a valid JSONPath: \?\(@\.x = = 1\)/);
      refuses({ ...valid, itemsPath: 'events..x' }, /^itemsPath: "events\.\.x" is not a valid path: a dotted path has an empty step/);
      refuses({ ...valid, recordPath: '$.record[' }, /^recordPath: /);
      refuses({ ...valid, objectType: '$.@_type' }, /@_type: a name starting with "@" is read as a type selector; escape it with a backtick: \$\.`@_type/);
      refuses({ ...valid, objectType: "$['@_type']" }, /escape it with a backtick/);
      refuses({ ...valid, objectType: "$['@odata.type']" }, /escape it with a backtick: \$\['`@odata\.type'\]/);
    });

    it('refuses other value forms', () => {
      refuses({ ...valid, objectType: 'data.type' }, /^objectType: "data\.type" must be a JSONPath \("\$…"\), "header:<Name>", "=<text>", "@key" or "@path"/);
      refuses({ ...valid, objectType: 'header:' }, /must name a header/);
      refuses({ ...valid, objectType: 'header:Bad Name' }, /must name a header/);
      refuses({ ...valid, objectType: '=' }, /"=" must be followed by the literal text/);
      refuses({ ...valid, objectType: '' }, /^objectType: must be/);
      refuses({ ...valid, objectType: [] }, /^objectType: an empty list/);
      refuses({ ...valid, objectType: [42] }, /^objectType\[0\]: must be/);
      refuses({ objectType: '=t', eventType: '=UPDATED' }, /^objectId: is required/);
      refuses({ objectType: '=t', objectId: '$.id' }, /^eventType: is required/);
      refuses(null, /must be an object/);
    });

    it('refuses event types other than the four', () => {
      refuses(
        { ...valid, eventType: { from: '$.a', map: { gone: 'REMOVED' } } },
        /^eventType\.map\.gone: "REMOVED" is not one of CREATED, UPDATED, DELETED, UNKNOWN/,
      );
      refuses({ ...valid, eventType: { from: '$.a', default: 'CHANGED' } }, /^eventType\.default: "CHANGED" is not one of/);
      refuses({ ...valid, eventType: { from: '$.a', map: ['CREATED'] } }, /^eventType\.map: must be an object/);
      refuses({ ...valid, eventType: { map: {} } }, /^eventType\.from: is required/);
    });

    it('makes mapWebhookBody refuse an invalid mapping the same way', () => {
      expect(() => mapWebhookBody({ ...valid, objectId: '$.[' }, {}, {}, NOW)).to.throw(DefinitionError, /objectId/);
    });
  });

  describe('compiled JSONPaths', () => {
    const doc = {
      id: 1,
      data: { id: 'd', 'a b': 2, list: [{ id: 'x' }, { id: 'y' }], nil: null, str: 'text' },
      arr: [[1, 2], [3]],
      'dotted.key': 'dk',
      '@_attr': 'at',
      '#text': 'tx',
    };

    it('give the same first match as jsonpath-plus', () => {
      const paths = [
        '$',
        '$.id',
        '$.data.id',
        "$.data['a b']",
        '$.data.list[1].id',
        '$.data.list[0]',
        '$.data.nil',
        '$.data.nil.x',
        '$.data.missing.x',
        '$.data.str.length',
        '$.data.list.length',
        '$.arr[0][1]',
        "$['dotted.key']",
        '$.data.constructor',
        '$.__proto__',
        '$.data.list[*].id',
        '$..id',
        '$.data.list[-1:].id',
        "$.data.list[?(@.id=='y')].id",
        '$.`@_attr',
        '$.data.`a b',
        "$['#text']",
        '$.`missing',
      ];
      for (const path of paths) {
        const expected = (JSONPath({ path, json: doc, wrap: true }) as unknown[])[0];
        expect(compileJsonPath(path).first(doc), path).to.deep.equal(expected);
      }
    });

    it('are compiled once', () => {
      expect(compileJsonPath('$.data.id')).to.equal(compileJsonPath('$.data.id'));
    });

    it('treat a filter that reads a missing field as false for that element', () => {
      const items = compileJsonPath('$.list[?(@.meta.kind == "a")]').all({ list: [{}, { meta: { kind: 'a' } }] });
      expect(items).to.deep.equal([{ meta: { kind: 'a' } }]);
    });
  });

  it('derives object and event types with pattern and map, ignores listed items, and finds the record by the first recordPath that matches', () => {
    const mapping: WebhookEventsMapping = {
      objectType: { from: '$.data.object.object', map: { customer: 'customers', invoice: 'invoices' } },
      objectId: '$.data.object.id',
      eventType: { from: '$.type', pattern: '\\.([a-z_]+)$', map: { created: 'CREATED', deleted: 'DELETED' }, default: 'UPDATED' },
      recordPath: ['$.data.missing', '$.data.object'],
      ignore: { from: 'header:X-Kind', values: ['ping'] },
    };
    const body = [
      { type: 'customer.created', data: { object: { object: 'customer', id: 'cus_1' } } },
      { type: 'invoice.payment_succeeded', data: { object: { object: 'invoice', id: 'in_1' } } },
      { type: 'customer.deleted', data: { object: { object: 'customer', id: 'cus_1' } } },
      { type: 'coupon.created', data: { object: { object: 'coupon', id: 'co_1' } } },
    ];
    const result = mapWebhookBody(mapping, body, {}, NOW);
    expect(summary(result)).to.deep.equal([
      ['customers', 'cus_1', 'CREATED', NOW_ISO],
      ['invoices', 'in_1', 'UPDATED', NOW_ISO],
      ['customers', 'cus_1', 'DELETED', NOW_ISO],
      ['coupon', 'co_1', 'CREATED', NOW_ISO],
    ]);
    expect(result.events[1].record).to.deep.equal({ object: 'invoice', id: 'in_1' });
    expect(mapWebhookBody(mapping, body, { 'x-kind': 'ping' }, NOW)).to.deep.equal({ events: [], unmapped: [] });
    expect(() => validateMapping({ ...mapping, eventType: { from: '$.type', pattern: '(' } })).to.throw(/eventType.pattern/);
    expect(() => validateMapping({ ...mapping, eventType: { from: '$.type', map: { a: 'MADE' } } })).to.throw(/eventType.map.a: "MADE" is not one of/);
    expect(() => validateMapping({ ...mapping, recordPath: ['$.a', '$.['] })).to.throw(/recordPath\[1\]/);
  });
});
