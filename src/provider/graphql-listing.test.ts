import { expect } from 'chai';
import { CostBucket } from './graphql-listing.js';

describe('GraphQL listings: the shared query-cost bucket', () => {
  const cost = (requested: number, available: number) => ({ requested, available, restoreRate: 100 });

  it('sends at once while nothing is known, then queues pages for the restore in the order they asked', () => {
    const bucket = new CostBucket();
    expect(bucket.take(0, 0)).to.equal(0);
    bucket.settle(0, cost(252, 100), 0);
    // 152 points short at 100 a second; the next page queues behind the first.
    expect(bucket.take(252, 0)).to.equal(1520);
    expect(bucket.take(252, 0)).to.equal(4040);
    // The first is answered at 1520 with the bucket empty: the second's reservation still counts.
    bucket.settle(252, cost(252, 0), 1520);
    expect(bucket.take(0, 1520)).to.equal(4040);
  });

  it('never estimates the bucket fuller than the provider ever reported it', () => {
    const bucket = new CostBucket();
    bucket.settle(0, cost(100, 300), 0);
    expect(bucket.take(100, 3_600_000)).to.equal(3_600_000);
    expect(bucket.take(100, 3_600_000)).to.equal(3_600_000);
    expect(bucket.take(200, 3_600_000)).to.equal(3_600_000 + 1000);
  });

  it('a page that failed before an answer gives its reservation back', () => {
    const bucket = new CostBucket();
    bucket.settle(0, cost(100, 100), 0);
    expect(bucket.take(100, 0)).to.equal(0);
    bucket.settle(100, undefined, 0);
    bucket.settle(0, cost(100, 100), 0);
    expect(bucket.take(100, 0)).to.equal(0);
  });
});
