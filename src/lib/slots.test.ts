import { expect } from 'chai';
import { Slots } from './slots.js';

describe('Slots', () => {
  it('hands a released slot to the first waiter; tryAcquire never waits', async () => {
    const slots = new Slots(() => 2);
    expect(await slots.acquire()).to.equal(true);
    expect(slots.tryAcquire()).to.equal(true);
    expect(slots.tryAcquire()).to.equal(false);
    const order: number[] = [];
    const first = slots.acquire().then((granted) => order.push(1) && granted);
    const second = slots.acquire().then((granted) => order.push(2) && granted);
    expect(slots.waiters).to.equal(2);
    slots.release();
    expect(await first).to.equal(true);
    expect(order).to.deep.equal([1]);
    expect(slots.inUse).to.equal(2);
    slots.release();
    expect(await second).to.equal(true);
    expect(order).to.deep.equal([1, 2]);
  });

  it('cancelWaiting sends every waiter away without a slot', async () => {
    const slots = new Slots(() => 1);
    slots.tryAcquire();
    const waiting = [slots.acquire(), slots.acquire()];
    expect(slots.cancelWaiting()).to.equal(2);
    expect(await Promise.all(waiting)).to.deep.equal([false, false]);
    expect(slots.inUse).to.equal(1);
    slots.release();
    expect(slots.inUse).to.equal(0);
    expect(slots.tryAcquire()).to.equal(true);
  });
});
