import { expect } from 'chai';
import { hashRecord, stableStringify } from '../lib/stable-hash.js';
import { diffRecords, type DiffRecord } from './diff.js';

const rec = (id: string, record: Record<string, unknown>, dates: Partial<DiffRecord> = {}): DiffRecord => ({ id, record, hash: hashRecord(record), ...dates });

describe('poller diff', () => {
  it('hashes records independently of key order', () => {
    expect(stableStringify({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).to.equal('{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}');
    expect(hashRecord({ a: 1, b: 2 })).to.equal(hashRecord({ b: 2, a: 1 }));
    expect(hashRecord({ a: 1 })).not.to.equal(hashRecord({ a: '1' }));
  });

  it('raises CREATED for unseen ids, UPDATED for changed hashes and nothing for the same hash', () => {
    const known = new Map([['1', hashRecord({ id: 1, v: 'a' })], ['2', hashRecord({ id: 2, v: 'a' })]]);
    const { changes } = diffRecords([rec('1', { id: 1, v: 'a' }), rec('2', { id: 2, v: 'b' }), rec('3', { id: 3 })], known, null);
    expect(changes.map((c) => [c.objectId, c.eventType])).to.deep.equal([['2', 'UPDATED'], ['3', 'CREATED']]);
  });

  it('counts an id listed twice in one listing once', () => {
    const { changes } = diffRecords([rec('1', { id: 1, v: 'a' }), rec('1', { id: 1, v: 'a' })], new Map(), null);
    expect(changes).to.have.length(1);
  });

  it('with dates, an unseen record created before the instance and edited since is UPDATED', () => {
    const createdAt = Date.parse('2026-11-24T10:00:00Z');
    const older = rec('1', { id: 1 }, { createdAt: createdAt - 86_400_000, updatedAt: createdAt + 1000 });
    const fresh = rec('2', { id: 2 }, { createdAt: createdAt + 500, updatedAt: createdAt + 1000 });
    const untouched = rec('3', { id: 3 }, { createdAt: createdAt + 700, updatedAt: createdAt + 700 });
    const { changes } = diffRecords([older, fresh, untouched], new Map(), createdAt);
    expect(changes.map((c) => c.eventType)).to.deep.equal(['UPDATED', 'CREATED', 'CREATED']);
  });
});
