import { expect } from 'chai';
import { hashRecord, stableStringify } from '../lib/stable-hash.js';
import { diffRecords, type DiffRecord } from './diff.js';

const events = (createdAt: number | null) => ({ instanceCreatedAt: createdAt, isBaseline: () => false });
const rec = (id: string, record: Record<string, unknown>, dates: Partial<DiffRecord> = {}): DiffRecord => ({ id, record, hash: hashRecord(record), ...dates });

describe('poller diff', () => {
  it('hashes records independently of key order', () => {
    expect(stableStringify({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).to.equal('{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}');
    expect(hashRecord({ a: 1, b: 2 })).to.equal(hashRecord({ b: 2, a: 1 }));
    expect(hashRecord({ a: 1 })).not.to.equal(hashRecord({ a: '1' }));
  });

  it('raises CREATED for unseen ids, UPDATED for changed hashes and nothing for the same hash', () => {
    const known = new Map([
      ['1', hashRecord({ id: 1, v: 'a' })],
      ['2', hashRecord({ id: 2, v: 'a' })],
    ]);
    const { changes } = diffRecords([rec('1', { id: 1, v: 'a' }), rec('2', { id: 2, v: 'b' }), rec('3', { id: 3 })], known, events(null));
    expect(changes.map((c) => [c.objectId, c.eventType])).to.deep.equal([
      ['2', 'UPDATED'],
      ['3', 'CREATED'],
    ]);
  });

  it('counts an id listed twice in one batch once, as its last version', () => {
    const { changes } = diffRecords([rec('1', { id: 1, v: 'a' }), rec('1', { id: 1, v: 'a' })], new Map(), events(null));
    expect(changes).to.have.length(1);
    const known = new Map([['1', hashRecord({ id: 1, v: 'a' })]]);
    const moved = diffRecords([rec('1', { id: 1, v: 'a' }), rec('2', { id: 2 }), rec('1', { id: 1, v: 'b' })], known, events(null));
    expect(moved.changes.map((c) => [c.objectId, c.eventType, c.record])).to.deep.equal([
      ['2', 'CREATED', { id: 2 }],
      ['1', 'UPDATED', { id: 1, v: 'b' }],
    ]);
  });

  it('with dates, an unseen record created before the instance and edited since is UPDATED', () => {
    const createdAt = Date.parse('2026-11-24T10:00:00Z');
    const older = rec('1', { id: 1 }, { createdAt: createdAt - 86_400_000, updatedAt: createdAt + 1000 });
    const fresh = rec('2', { id: 2 }, { createdAt: createdAt + 500, updatedAt: createdAt + 1000 });
    const untouched = rec('3', { id: 3 }, { createdAt: createdAt + 700, updatedAt: createdAt + 700 });
    const { changes } = diffRecords([older, fresh, untouched], new Map(), events(createdAt));
    expect(changes.map((c) => c.eventType)).to.deep.equal(['UPDATED', 'CREATED', 'CREATED']);
  });

  it('stores baseline records without an event, and tells unchanged ids apart', () => {
    const known = new Map([['1', hashRecord({ id: 1 })]]);
    const rules = { instanceCreatedAt: null, isBaseline: (r: DiffRecord) => r.id === '2' };
    const { changes, changed, unchanged } = diffRecords([rec('1', { id: 1 }), rec('2', { id: 2 }), rec('3', { id: 3 })], known, rules);
    expect(changes.map((c) => [c.objectId, c.eventType])).to.deep.equal([['3', 'CREATED']]);
    expect(changed.map((r) => r.id)).to.deep.equal(['2', '3']);
    expect(unchanged).to.deep.equal(['1']);
  });
});
