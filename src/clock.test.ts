import { expect } from 'chai';
import { everySeconds } from './clock.js';

describe('everySeconds', () => {
  it('ticks at fractions of a second (not rounded to whole seconds) until cancelled', async () => {
    let ticks = 0;
    const ticker = everySeconds(0.02, async () => void ticks++);
    await new Promise((r) => setTimeout(r, 150));
    ticker.cancel();
    const seen = ticks;
    expect(seen).to.be.at.least(3);
    await new Promise((r) => setTimeout(r, 60));
    expect(ticks).to.equal(seen);
  });
});
