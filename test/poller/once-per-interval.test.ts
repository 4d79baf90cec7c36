import { expect } from 'chai';
import { startGateway, usePostgres, type TestGateway } from '../helpers/gateway.js';
import { PollStateStore } from '../../src/poller/store.js';
import { EmulatedProvider, type CannedResponse, type RecordedRequest } from '../../sandbox/provider-server.js';
import { providerConnector, registerConnector } from './helpers.js';

/**
 * One poll per object per interval, each from the watermark the previous poll wrote, with the
 * scheduler running as in production: it claims polls due before its next tick ahead of time and
 * starts each at its due time — and a start may come a moment early by the gateway's clock (a timer
 * firing a millisecond early; here the manual clock, which does not move while a claimed poll waits).
 * Every instance has a provider path of its own, so the provider's request log counts per object.
 */
const MINUTE = 60_000;
const TALLY = providerConnector('tally', {
  configuration: [{ key: 'base_url', required: true }],
  auth: { type: 'none' },
  poller: { items: { url: '/items?since=${epoch:ms}', idField: 'id' } },
} as never);

interface ObjectStatus {
  nextPollDate: string;
}

describe('polling: one poll per object per interval', function () {
  this.timeout(60_000);
  let provider: EmulatedProvider;
  let t: TestGateway;

  beforeEach(async () => {
    provider = await EmulatedProvider.start();
    provider.route('GET', '/i/:n/items', () => ({ status: 200, body: [] }));
    // Ticks every 50 ms of real time, looking 50 ms of the gateway's clock ahead; no overlap, so a
    // poll's since-time is exactly the watermark the previous poll wrote.
    t = await startGateway({ config: { poller: { tickSeconds: 0.05, jitterSeconds: 60, overlapSeconds: 0 } } });
    provider.now = () => t.clock.now();
    await registerConnector(t, TALLY);
  });

  afterEach(async () => {
    await t.gateway.poller.stop();
    await t.close();
    await provider.close();
  });

  const create = async (n: number) => {
    const res = await t.api.post('instances', {
      json: { element: { key: 'tally' }, configuration: { base_url: `${provider.url}/i/${n}`, 'event.poller.refresh_interval': '1' } },
    });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    const body = res.body as unknown as { id: number; createdDate: string };
    return { n, id: body.id, createdAt: Date.parse(body.createdDate) };
  };
  const nextPoll = async (id: number) =>
    Date.parse(((await t.api.get(`instances/${id}/status`)).body as unknown as { objects: Record<string, ObjectStatus> }).objects.items.nextPollDate);
  /** Moves the gateway's clock, lets the scheduler claim (and claim ahead) and waits for what it started. */
  const at = async (ms: number) => {
    // Polls the loop started on its own finish first: a poll's start and its request see one time.
    await t.gateway.poller.idle();
    t.clock.set(ms);
    await t.gateway.poller.tick();
    await t.gateway.poller.idle();
  };
  const requestsOf = (n: number): RecordedRequest[] => provider.requests.filter((r) => r.path === `/i/${n}/items`);

  it('a poll claimed ahead that starts a moment before its due time is not polled again at once: its next poll is an interval later', async () => {
    const { id } = await create(0);
    const due = await nextPoll(id);
    t.gateway.poller.start();
    await at(due - 10); // due within the look-ahead: claimed now, started when its wait is over
    expect(requestsOf(0)).to.have.length(1);
    expect(await nextPoll(id)).to.equal(due + MINUTE);
    await at(due + 1000);
    expect(requestsOf(0)).to.have.length(1);
    await at(due + MINUTE);
    expect(requestsOf(0)).to.have.length(2);
  });

  it('instances created at 450 a second, 50 at a time, while the scheduler runs: each object is requested once per interval, each time from the watermark the previous poll wrote', async () => {
    t.gateway.poller.start();
    const start = t.clock.now();
    const created: Array<{ n: number; id: number; createdAt: number }> = [];
    // 200 instances in batches of 50 created together, a batch every 111 ms of the gateway's clock.
    for (let batch = 0; batch < 4; batch++) {
      await at(start + batch * 111);
      created.push(...(await Promise.all(Array.from({ length: 50 }, (_, i) => create(batch * 50 + i)))));
    }
    // Two intervals and a little more, a second at a time (most polls start up to a second late,
    // those due just after a step a moment early).
    const end = start + 2 * MINUTE + 2000;
    for (let now = start + 1000; now <= end; now += 1000) await at(now);

    const problems: string[] = [];
    for (const { n, id, createdAt } of created) {
      const [state] = await t.gateway.ctx.stores.pollState.objectsOf(id);
      if (state.last_error !== null) problems.push(`instance ${n}: a poll failed: ${state.last_error}`);
      const requests = requestsOf(n);
      const starts = requests.map((r) => r.at);
      const sinces = requests.map((r) => Number(r.query.since));
      if (requests.length < 2) problems.push(`instance ${n}: ${requests.length} poll(s) in two intervals`);
      if (requests.length === 0) continue;
      if (starts[0] - createdAt > MINUTE + 2000) problems.push(`instance ${n}: first poll ${starts[0] - createdAt} ms after creation`);
      if (sinces[0] !== createdAt) problems.push(`instance ${n}: first poll since ${sinces[0]}, not the creation ${createdAt}`);
      for (let i = 1; i < requests.length; i++) {
        const gap = starts[i] - starts[i - 1];
        // Each poll starts between a moment before its due time and a step or two after it.
        if (gap < MINUTE - 2000 || gap > MINUTE + 2000) problems.push(`instance ${n}: polls ${i} and ${i + 1} ${gap} ms apart`);
        if (sinces[i] !== starts[i - 1]) problems.push(`instance ${n}: poll ${i + 1} since ${sinces[i]}, not the watermark ${starts[i - 1]} of poll ${i}`);
      }
    }
    expect(problems, `${problems.length} problems; first: ${problems.slice(0, 5).join('; ')}`).to.deep.equal([]);
  });

  it('a node whose poll outlived its lease does not release the lease another node took meanwhile: its failure leaves that poll the only one', async () => {
    const { id } = await create(9);
    const other = await startGateway({ dataDir: t.dataDir, schema: t.schema, clock: t.clock });
    try {
      // The first two requests hang until the test answers them; later ones get an empty listing.
      const held: Array<(answer: CannedResponse) => void> = [];
      provider.route('GET', '/i/9/items', () => (held.length < 2 ? new Promise<CannedResponse>((resolve) => held.push(resolve)) : { status: 200, body: [] }));
      const until = async (n: number) => {
        for (let i = 0; i < 500 && held.length < n; i++) await new Promise((r) => setTimeout(r, 5));
        expect(held).to.have.length(n);
      };
      const first = t.api.post(`instances/${id}/events/poll`);
      await until(1);
      // This node's lease runs out (it renews only while its loop runs): the other node claims the object.
      t.clock.advance(t.config.poller.leaseSeconds * 1000 + 1000);
      const second = other.api.post(`instances/${id}/events/poll`);
      await until(2);
      held[0]({ status: 400, body: { error: 'bad request' } });
      expect(((await first).body as unknown as { objects: Record<string, { error?: string }> }).objects.items.error).to.match(/^HTTP 400/);
      // The other node's poll is still running: the object is not free for a third.
      const third = await t.api.post(`instances/${id}/events/poll`);
      expect(third.statusCode, JSON.stringify(third.body)).to.equal(409);
      expect(requestsOf(9)).to.have.length(2);
      held[1]({ status: 200, body: [] });
      expect(((await second).body as unknown as { objects: Record<string, unknown> }).objects.items).to.deep.equal({
        fetched: 0,
        created: 0,
        updated: 0,
        deleted: 0,
      });
      const [row] = await t.gateway.ctx.stores.pollState.objectsOf(id);
      expect(row).to.include({ lease_owner: null, last_error: null, last_node: other.gateway.ctx.nodeId });
    } finally {
      await other.close();
    }
  });

  it('renewing the leases of running polls never deadlocks with a poll outcome being written (which would lose that poll and its watermark)', async () => {
    const store = t.gateway.ctx.stores.pollState;
    const owner = t.gateway.ctx.nodeId;
    const now = t.clock.now();
    const objects: Array<{ instanceId: number; id: number }> = [];
    for (const n of [1, 2]) {
      const { id: instanceId } = await create(n);
      const [row] = await store.claimOfInstance<{ id: number }>(instanceId, undefined, { now, owner, leaseMs: MINUTE, limit: 10 });
      objects.push({ instanceId, id: Number(row.id) });
    }
    const [first, second] = objects.map((o) => o.id).sort((a, b) => a - b);
    let renewing: Promise<void> | undefined;
    let renewed = false;
    await t.gateway.db.transaction(async (trx) => {
      const outcome = new PollStateStore(trx);
      // An outcome write holds the second row (group commit writes several polls' outcomes at once)…
      expect([...(await outcome.updateMany([{ id: second, watermark: now + 1 }], owner))]).to.deep.equal([second]);
      // …when the loop renews the leases of both (their polls are still running)…
      renewing = store.renewLeases([first, second], owner, now + 2 * MINUTE).then(() => void (renewed = true));
      if (usePostgres) {
        // (wait until the renewal is done, or waits for this transaction)
        const [{ pid }] = (await trx.raw('select pg_backend_pid() as pid')).rows as Array<{ pid: number }>;
        const blocked = async () =>
          Number((await t.gateway.db.raw('select count(*) as n from pg_stat_activity where ? = any(pg_blocking_pids(pid))', [pid])).rows[0].n) > 0;
        for (let i = 0; i < 1000 && !renewed && !(await blocked()); i++) await new Promise((r) => setTimeout(r, 5));
      }
      // …and then writes the first row's outcome in the same batch.
      expect([...(await outcome.updateMany([{ id: first, watermark: now + 1 }], owner))]).to.deep.equal([first]);
    });
    await renewing;
    for (const { instanceId } of objects) expect(Number((await store.objectsOf(instanceId))[0].watermark)).to.equal(now + 1);
  });
});
