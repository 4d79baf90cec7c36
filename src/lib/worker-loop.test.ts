import { expect } from 'chai';
import { createLogger } from '../log.js';
import { backoffMs } from './backoff.js';
import { WorkerLoop } from './worker-loop.js';

/** A loop whose pass waits on a gate the test opens, and may start work that waits on another. */
class GatedLoop extends WorkerLoop {
  passes = 0;
  failNext = false;
  gate: Promise<void> = Promise.resolve();
  workGate: Promise<void> | undefined;

  constructor(tickSeconds = 0.01) {
    super({ name: 'test', tickSeconds: () => tickSeconds, log: createLogger({ level: 'silent' }) });
  }

  protected async pass(): Promise<number> {
    this.passes++;
    await this.gate;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('boom');
    }
    if (this.workGate) this.track(this.passes, this.workGate);
    return this.passes;
  }

  get inFlight(): number {
    return this.running.size;
  }
}

const opened = () => {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  return { gate, open };
};

describe('WorkerLoop', () => {
  it('shares one pass between overlapping ticks', async () => {
    const loop = new GatedLoop();
    const { gate, open } = opened();
    loop.gate = gate;
    const first = loop.tick();
    const second = loop.tick();
    open();
    expect(await first).to.equal(1);
    expect(await second).to.equal(1);
    expect(loop.passes).to.equal(1);
    expect(await loop.tick()).to.equal(2);
  });

  it('counts a failing pass as 0 and keeps going', async () => {
    const loop = new GatedLoop();
    loop.failNext = true;
    expect(await loop.tick()).to.equal(0);
    expect(await loop.tick()).to.equal(2);
  });

  it('ticks on its timer once started; start and stop are safe twice; a stopped loop does not tick', async () => {
    const loop = new GatedLoop();
    loop.start();
    loop.start();
    expect(loop.started).to.equal(true);
    await new Promise((r) => setTimeout(r, 100));
    await loop.stop();
    await loop.stop();
    expect(loop.started).to.equal(false);
    const passes = loop.passes;
    expect(passes).to.be.at.least(2);
    expect(await loop.tick()).to.equal(0);
    await new Promise((r) => setTimeout(r, 50));
    expect(loop.passes).to.equal(passes);
    loop.start();
    expect(await loop.tick()).to.be.greaterThan(passes);
    await loop.stop();
  });

  it('stop waits up to the grace period for work in flight, and idle until it is done', async () => {
    const loop = new GatedLoop();
    const work = opened();
    loop.workGate = work.gate;
    await loop.tick();
    expect(loop.inFlight).to.equal(1);
    const started = Date.now();
    await loop.stop(30);
    expect(Date.now() - started).to.be.at.least(25);
    expect(loop.inFlight).to.equal(1);
    const idle = loop.idle();
    work.open();
    await idle;
    expect(loop.inFlight).to.equal(0);
  });

  it('kick runs a pass soon, only while started', async () => {
    const loop = new GatedLoop();
    loop.kick();
    await new Promise((r) => setImmediate(r));
    expect(loop.passes).to.equal(0);
    loop.start();
    loop.kick();
    await new Promise((r) => setTimeout(r, 5));
    expect(loop.passes).to.be.at.least(1);
    await loop.stop();
  });

  it('a kick while a pass runs is followed by another pass once that one ends', async () => {
    const loop = new GatedLoop(60);
    const { gate, open } = opened();
    loop.gate = gate;
    loop.start();
    const first = loop.tick();
    loop.kick();
    await new Promise((r) => setImmediate(r));
    expect(loop.passes).to.equal(1);
    loop.gate = Promise.resolve();
    open();
    await first;
    await new Promise((r) => setTimeout(r, 5));
    expect(loop.passes).to.equal(2);
    await loop.stop();
  });
});

describe('backoffMs', () => {
  it('starts at the base, doubles per failure and stops at the maximum', () => {
    expect([1, 2, 3, 4].map((n) => backoffMs(n, 10, 3600))).to.deep.equal([10_000, 20_000, 40_000, 80_000]);
    expect(backoffMs(20, 10, 3600)).to.equal(3_600_000);
    expect(backoffMs(0, 30, 3600)).to.equal(30_000);
  });
});
