import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import got, { type Got } from 'got';
import { API_TOKEN, dropSchema, newSchemaName, usePostgres } from '../helpers/gateway.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';

/**
 * A rate budget shared by three gateway processes on one PostgreSQL database (one `rate_budgets`
 * row per scope). 30 instances of one provider account, each polling every second, want about
 * 30 requests a second; the account allows 60 per 3 s. The provider, recording when each request
 * arrives, must never see more than 60 in any 3 s, and every poll must complete (delayed, never
 * failed). Midway the provider answers one poll with `X-RateLimit-Remaining: 0` and a reset 3 s
 * ahead: the polls due meanwhile, on every node, are delayed (whether the pacing alone queues calls
 * past the 2 s a call may wait depends on how fast a loaded machine runs the nodes; the pause does
 * not). Then a 429 with `Retry-After: 2` must pause the whole account: no request of any of its
 * instances, on any node, reaches the provider within 2 s of it.
 *
 * Both bounds hold by construction, not by timing luck: send times are reserved in one statement
 * on the shared row, spaced so that 61 of them span the window plus `rateBudgetMarginSeconds`
 * (which absorbs the delay between a grant and the provider's count on a loaded machine), and the
 * pause is recorded before the node that got the 429 does anything else, then seen by every take.
 */
const WINDOW_SECONDS = 3;
const LIMIT = 60;
const INSTANCES = 30;
const LOAD_SECONDS = 12;
const NODE_CONFIG = {
  poller: { enabled: true, tickSeconds: 0.2, minIntervalSeconds: 1, leaseSeconds: 10, concurrency: 32, jitterSeconds: 0 },
  // A call waits at most 2 s for its turn: past that its poll is rescheduled (and not failed).
  provider: { maxRetryAfterSeconds: 2, rateBudgetMarginSeconds: 1 },
  delivery: { enabled: false },
  schedules: { enabled: false },
  shutdown: { graceSeconds: 2 },
  // Few connections: other test runs share the PostgreSQL server.
  database: { poolMax: 4 },
};
type Status = {
  rateLimit?: { scope: string; waitingUntil: string | null; reason: string | null };
  objects: Record<string, { lastError: string | null; consecutiveFailures: number; lastSuccessDate: string | null; node: string | null }>;
};

/** The most arrivals (sorted times) within any window of `ms` that starts at an arrival. */
function busiestWindow(times: number[], ms: number): number {
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (j < times.length && times[j] < times[i] + ms) j++;
    most = Math.max(most, j - i);
  }
  return most;
}

const metric = (text: string, line: string) => Number(new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\d+)`, 'm').exec(text)?.[1] ?? 0);

describe('rate budgets across nodes', function () {
  this.timeout(180_000);
  if (!usePostgres) return;

  let dataDir: string;
  let schema: string;
  let provider: EmulatedProvider;
  const nodes: GatewayProcess[] = [];
  let api: Got;
  const apiOf = (node: GatewayProcess) =>
    got.extend({
      prefixUrl: `${node.url}/elements/api-v2`,
      headers: { authorization: `Bearer ${API_TOKEN}` },
      responseType: 'json',
      retry: { limit: 0 },
      throwHttpErrors: false,
    });
  const status = async (id: number) => (await api.get(`instances/${id}/status`)).body as unknown as Status;

  const createInstances = async (key: string, prefix: string, count: number, interval: string) => {
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      provider.collection(`${prefix}${i}`).upsert({ name: `first of ${prefix}${i}` });
      const res = await api.post('instances', {
        json: {
          element: { key },
          configuration: { base_url: provider.url, account: 'acme', coll: `${prefix}${i}`, 'event.poller.refresh_interval': interval },
        },
      });
      expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
      ids.push((res.body as unknown as { id: number }).id);
    }
    return ids;
  };
  const connector = (key: string, rateLimit: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    key,
    name: key,
    configuration: [
      { key: 'base_url', required: true },
      { key: 'account', required: true },
      { key: 'coll', required: true },
    ],
    baseUrl: '<%= iparam.base_url %>',
    rateLimit: { ...rateLimit, scope: '<%= iparam.account %>' },
    events: { supported: ['polling'], poller: { items: { url: "/<%= iparam.coll %>?updated_since=${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSS'Z'}", idField: 'id' } } },
    ...extra,
  });

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'pollgate-budget-cluster-'));
    schema = newSchemaName();
    provider = await EmulatedProvider.start();
    nodes.push(...(await Promise.all([0, 1, 2].map((i) => startGatewayProcess({ dataDir, schema, nodeId: `budget-node-${i}`, config: NODE_CONFIG })))));
    api = apiOf(nodes[0]);
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.kill('SIGTERM')));
    await provider.close();
    await dropSchema(schema);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(`3 nodes, ${INSTANCES} instances of one account allowed ${LIMIT} requests per ${WINDOW_SECONDS} s: never more in any window, every poll completes`, async () => {
    const headers = { rateLimitHeaders: { remaining: 'X-RateLimit-Remaining', reset: 'X-RateLimit-Reset', resetIn: 'epoch-seconds' } };
    expect((await api.post('elements', { json: connector('shared', { requests: LIMIT, perSeconds: WINDOW_SECONDS }, headers) })).statusCode).to.equal(201);
    const started = Date.now();
    const ids = await createInstances('shared', 's', INSTANCES, '0.0167');
    await new Promise((r) => setTimeout(r, started + (LOAD_SECONDS * 1000) / 2 - Date.now()));

    // The provider reports the account's budget spent until 3 s from now, on the next poll's answer.
    const before = provider.requests.length;
    const reset = Math.ceil(Date.now() / 1000) + 3;
    provider.failNext(1, { status: 200, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) }, body: [] }, { path: '/s' });
    const deadline = Date.now() + 60_000;
    while (!provider.requests.slice(before).some((r) => /^\/s\d+$/.test(r.path)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    // The load goes on for half its time again after the pause (the reset, plus the 1 s margin):
    // LOAD_SECONDS of load outside the pause in all.
    await new Promise((r) => setTimeout(r, Math.max(started + LOAD_SECONDS * 1000, (reset + 1) * 1000 + (LOAD_SECONDS * 1000) / 2) - Date.now()));
    const loadEnded = Date.now();
    const statuses = await Promise.all(ids.map(status));
    // Each poll is one request of its own collection: how many each instance got.
    const perInstance = ids.map((_, i) => provider.requests.filter((r) => r.path === `/s${i}`).length);

    const times = provider.requests
      .filter((r) => /^\/s\d+$/.test(r.path))
      .map((r) => r.at)
      .sort((a, b) => a - b);
    const busiest = busiestWindow(times, WINDOW_SECONDS * 1000);
    const texts = await Promise.all(nodes.map(async (n) => (await got(`${n.url}/metrics`, { headers: { authorization: `Bearer ${API_TOKEN}` } })).body));
    const sum = (line: string) => texts.reduce((total, text) => total + metric(text, line), 0);
    // Every poll a node ran is counted in its own metrics (status keeps only the last poll's node).
    const okPerNode = texts.map((text) => metric(text, 'pollgate_polls_total{result="ok"}'));
    console.log(
      `      budget cluster: ${times.length} requests in ${((times.at(-1)! - times[0]) / 1000).toFixed(1)} s, at most ${busiest} in any ${WINDOW_SECONDS} s (limit ${LIMIT}); polls ok ${sum('pollgate_polls_total{result="ok"}')}, delayed ${sum('pollgate_polls_total{result="delayed"}')}, failed ${sum('pollgate_polls_total{result="error"}')}; polls per instance ${Math.min(...perInstance)}–${Math.max(...perInstance)}; completed polls per node ${okPerNode.join(', ')}`,
    );

    expect(times.length, 'the load wanted more than the budget gives').to.be.above(((LOAD_SECONDS - 1) / WINDOW_SECONDS) * LIMIT * 0.5);
    expect(busiest, `requests in the busiest ${WINDOW_SECONDS} s`).to.be.at.most(LIMIT);
    expect(sum('pollgate_polls_total{result="error"}'), 'failed polls').to.equal(0);
    expect(sum('pollgate_polls_total{result="delayed"}'), 'polls delayed by the budget').to.be.above(0);
    for (const [i, ok] of okPerNode.entries()) expect(ok, `polls completed by ${nodes[i].nodeId}`).to.be.above(0);
    for (const [i, s] of statuses.entries()) {
      expect(s.objects.items, `instance ${ids[i]}`).to.include({ lastError: null, consecutiveFailures: 0 });
      expect(perInstance[i], `polls of instance ${ids[i]}`).to.be.at.least(1);
      expect(s.rateLimit?.scope).to.equal('acme');
    }
    expect(loadEnded).to.be.above(started);
    // The load stops here (an hour's interval, re-planned at once).
    for (const id of ids) await api.patch(`instances/${id}`, { json: { configuration: { 'event.poller.refresh_interval': '60' } } });
  });

  it('a 429 with Retry-After: 2 pauses every instance of the account, on every node, for at least 2 s', async () => {
    expect((await api.post('elements', { json: connector('paused', { requests: 1000, perSeconds: 1 }) })).statusCode).to.equal(201);
    // Six instances polling hourly (none is due now): nothing of the account is in flight.
    const ids = await createInstances('paused', 'p', 6, '60');
    const before = provider.requests.length;

    // One poll gets a 429; once the pause shows in status (it is in the database), the others poll
    // now through all three nodes. The pause (2 s + the 1 s margin) is longer than a call waits
    // (2 s): every poll is rescheduled to its end, and the scheduler of some node runs it then.
    provider.failNext(1, { status: 429, headers: { 'retry-after': '2' }, body: { error: 'slow down' } }, { path: '/p' });
    const first = await apiOf(nodes[0]).post(`instances/${ids[0]}/events/poll`);
    const shown = (await status(ids[1])).rateLimit;
    expect(shown, 'the status of another instance of the account shows the pause').to.include({ scope: 'acme', reason: '429 Retry-After' });
    const others = await Promise.all(ids.slice(1).map((id, i) => apiOf(nodes[i % 3]).post(`instances/${id}/events/poll`)));
    for (const answer of [first, ...others]) {
      expect(answer.statusCode).to.equal(200);
      const items = (answer.body as unknown as { objects: Record<string, { error?: string; delayedUntil?: string; reason?: string }> }).objects.items;
      expect(items, JSON.stringify(items)).to.include({ delayedUntil: shown!.waitingUntil, reason: '429 Retry-After' });
      expect(items.error).to.equal(undefined);
    }

    const account = () => provider.requests.slice(before).filter((r) => r.path.startsWith('/p'));
    const deadline = Date.now() + 60_000;
    while (account().length < 1 + ids.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const [tooMany, ...after] = account();
    const pauseMs = Math.min(...after.map((r) => r.at)) - tooMany.at;
    const statuses = await Promise.all(ids.map(status));
    console.log(
      `      budget cluster: after the 429 the account's next request came ${(pauseMs / 1000).toFixed(2)} s later (${after.length} requests from ${ids.length} instances, polled by ${[...new Set(statuses.map((s) => s.objects.items.node))].sort().join(', ')})`,
    );
    expect(after.length).to.equal(ids.length);
    expect(pauseMs, 'ms between the 429 and the next request of the account').to.be.at.least(2000);
    for (const s of statuses) expect(s.objects.items).to.include({ lastError: null, consecutiveFailures: 0 });
  });
});
