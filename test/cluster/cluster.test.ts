import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import got from 'got';
import { API_TOKEN, dropSchema, newSchemaName, usePostgres } from '../helpers/gateway.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { Receiver } from '../providers/receiver.js';

/**
 * Several gateway processes on one database: instances with short intervals against a provider
 * that records, per object, how many polls are in flight at once; a steady stream of new records;
 * one node killed with SIGKILL and one drained with SIGTERM midway. Every record must reach its
 * callback at least once, no object may be polled by two nodes at once, no notification may be in
 * flight twice at once, and the survivor must carry on.
 */
const NODE_CONFIG = {
  poller: { enabled: true, tickSeconds: 1, minIntervalSeconds: 1, leaseSeconds: 3, concurrency: 32 },
  delivery: { enabled: true, tickSeconds: 1, leaseSeconds: 3, timeoutSeconds: 1, concurrency: 32, retrySchedule: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1] },
  schedules: { enabled: false },
  shutdown: { graceSeconds: 5 },
  // The test reads every instance's status at once (200 requests from one address): above the per-address cap.
  server: { host: '127.0.0.1', maxConnectionsPerAddress: 512 },
};

async function runCluster(o: { nodes: number; instances: number; seconds: number; kill: boolean }) {
  const dataDir = mkdtempSync(join(tmpdir(), 'pollgate-cluster-'));
  const schema = usePostgres ? newSchemaName() : undefined;
  const provider = await EmulatedProvider.start();
  provider.recordRequests = false;
  const receiver = await Receiver.start();
  receiver.defaultDelayMs = 20;
  const nodes: GatewayProcess[] = [];
  try {
    // Several nodes migrating one fresh database at once (the advisory lock makes them take turns).
    nodes.push(
      ...(await Promise.all(Array.from({ length: o.nodes }, (_, i) => startGatewayProcess({ dataDir, schema, nodeId: `node-${i}`, config: NODE_CONFIG })))),
    );
    const api = got.extend({
      prefixUrl: `${nodes[0].url}/elements/api-v2`,
      headers: { authorization: `Bearer ${API_TOKEN}` },
      responseType: 'json',
      retry: { limit: 0 },
    });
    await api.post('elements', {
      json: {
        key: 'cluster',
        name: 'Cluster',
        configuration: [
          { key: 'base_url', required: true },
          { key: 'coll', required: true },
        ],
        baseUrl: '<%= iparam.base_url %>',
        events: {
          supported: ['polling'],
          poller: { items: { url: "/<%= iparam.coll %>?updated_since=${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSS'Z'}", idField: 'id' } },
        },
      },
    });
    const started = Date.now();
    for (let i = 0; i < o.instances; i++) {
      provider.collection(`c${i}`);
      await api.post('instances', {
        json: {
          element: { key: 'cluster' },
          configuration: {
            base_url: provider.url,
            coll: `c${i}`,
            'event.poller.refresh_interval': '0.02',
            'event.notification.callback.url': `${receiver.url}/i/c${i}`,
          },
        },
      });
    }

    // A steady stream of new records; each must be delivered at least once.
    const expected = new Set<string>();
    let stopStream = false;
    const stream = (async () => {
      let n = 0;
      while (!stopStream) {
        const coll = `c${n % o.instances}`;
        const r = provider.collection(coll).upsert({ n });
        expected.add(`${coll}/${r.id}`);
        n++;
        await new Promise((res) => setTimeout(res, 10));
      }
    })();

    let killedAt = 0;
    let termCode: number | null = null;
    if (o.kill) {
      await new Promise((r) => setTimeout(r, (o.seconds * 1000) / 3));
      killedAt = Date.now();
      await nodes[1].kill('SIGKILL');
      await new Promise((r) => setTimeout(r, (o.seconds * 1000) / 3));
      termCode = await nodes[2].kill('SIGTERM');
      await new Promise((r) => setTimeout(r, (o.seconds * 1000) / 3));
    } else {
      await new Promise((r) => setTimeout(r, o.seconds * 1000));
    }
    stopStream = true;
    await stream;

    // Everything must arrive: wait (bounded) for the last records to be polled and delivered.
    const delivered = new Map<string, number>();
    const deadline = Date.now() + 30_000;
    for (;;) {
      delivered.clear();
      for (const req of receiver.received) {
        const coll = req.path.split('/').pop()!;
        const body = req.body as { events: Array<{ objectId: string }> };
        for (const e of body.events) delivered.set(`${coll}/${e.objectId}`, (delivered.get(`${coll}/${e.objectId}`) ?? 0) + 1);
      }
      if ([...expected].every((k) => delivered.has(k)) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const missing = [...expected].filter((k) => !delivered.has(k));
    // Who polled each object last, and when: after a kill, the survivors must have taken over.
    const statuses = await Promise.all(
      Array.from({ length: o.instances }, (_, i) =>
        api.get(`instances/${i + 1}/status`).json<{ objects: { items: { node: string; lastPollDate: string } } }>(),
      ),
    );
    const lastPolls = statuses.map((s) => ({ node: s.objects.items.node, at: Date.parse(s.objects.items.lastPollDate) }));
    const duplicates = [...delivered.values()].filter((c) => c > 1).length;
    const maxPollOverlap = Math.max(...Array.from({ length: o.instances }, (_, i) => provider.maxInFlight(`c${i}`)));
    return {
      lastPolls,
      expected: expected.size,
      missing,
      duplicates,
      maxPollOverlap,
      maxNotificationOverlap: receiver.maxConcurrentPerId,
      termCode,
      killedAt,
      started,
      survivorOutput: nodes[0].output(),
    };
  } finally {
    await Promise.all(nodes.map((n) => n.kill('SIGTERM')));
    await receiver.close();
    await provider.close();
    if (schema) await dropSchema(schema);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

describe('several gateway nodes on one database', function () {
  this.timeout(120_000);

  if (usePostgres) {
    it('3 nodes on PostgreSQL: SIGKILL one and SIGTERM another; nothing lost, no overlapping work', async () => {
      const r = await runCluster({ nodes: 3, instances: 200, seconds: 9, kill: true });
      console.log(
        `      cluster: ${r.expected} records, ${r.missing.length} missing, ${r.duplicates} delivered more than once, max poll overlap ${r.maxPollOverlap}, max notification overlap ${r.maxNotificationOverlap}`,
      );
      expect(r.expected).to.be.greaterThan(300);
      expect(r.missing, 'records never delivered').to.deep.equal([]);
      expect(r.maxPollOverlap, 'an object polled by two nodes at once').to.equal(1);
      expect(r.maxNotificationOverlap, 'a notification in flight twice at once').to.equal(1);
      expect(r.termCode, 'SIGTERM drains and exits 0').to.equal(0);
      // The killed and the drained node's objects were taken over: every object was polled after
      // the kill plus the lease (3 s), by the surviving node.
      expect(
        r.lastPolls.every((p) => p.node === 'node-0' && p.at > r.killedAt + 3000),
        'survivor carried on',
      ).to.equal(true);
    });
  }

  it(`1 node on ${usePostgres ? 'PostgreSQL' : 'SQLite'} delivers every record and drains on SIGTERM`, async () => {
    const r = await runCluster({ nodes: 1, instances: 20, seconds: 4, kill: false });
    console.log(`      single node: ${r.expected} records, ${r.missing.length} missing, ${r.duplicates} duplicates`);
    expect(r.missing).to.deep.equal([]);
    expect(r.maxPollOverlap).to.equal(1);
    expect(r.maxNotificationOverlap).to.equal(1);
  });
});
