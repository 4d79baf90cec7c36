import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { expect } from 'chai';
import { Outbound, OutboundError, type OutboundOptions } from '../../src/network/outbound.js';

/**
 * The outbound module against a real loopback server: compressed answers decoded, the size cap
 * counted on decoded bytes (a small compressed body that inflates past it is cut), the status of
 * a cut answer kept, and the sockets kept to one origin bounded by the pool's limit.
 */
describe('outbound module', () => {
  let server: http.Server;
  let url: string;
  let outbound: Outbound;
  let open = 0;
  let mostOpen = 0;
  let handler: (req: http.IncomingMessage, res: http.ServerResponse) => void;

  beforeEach(async () => {
    open = 0;
    mostOpen = 0;
    server = http.createServer((req, res) => handler(req, res));
    server.on('connection', (socket) => {
      mostOpen = Math.max(mostOpen, ++open);
      socket.on('close', () => open--);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    outbound = new Outbound({ provider: 4, callback: 2 });
  });

  afterEach(async () => {
    await outbound.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const options = (o: Partial<OutboundOptions> = {}): OutboundOptions => ({
    timeoutMs: 5000,
    policy: { allowLoopback: true, allowPrivate: false },
    maxResponseBytes: 1000,
    pool: 'callback',
    label: 'callback URL',
    ...o,
  });

  it('asks for compression and decodes a gzip answer', async () => {
    handler = (req, res) => {
      expect(req.headers['accept-encoding']).to.include('gzip');
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(zlib.gzipSync('{"ok":true}'));
    };
    const answer = await outbound.sendOnce({ method: 'POST', url: `${url}/cb`, headers: {}, body: '{}' }, options());
    expect(answer).to.include({ status: 200, body: '{"ok":true}' });
  });

  it('leaves out connection headers set by hand (the pool manages the connection)', async () => {
    handler = (req, res) => res.writeHead(200).end(String(req.headers['x-kept'] ?? '') + String(req.headers.upgrade ?? ''));
    const answer = await outbound.sendOnce(
      { method: 'POST', url: `${url}/cb`, headers: { Connection: 'Upgrade', Upgrade: 'websocket', Expect: '100-continue', 'X-Kept': 'yes' }, body: '{}' },
      options(),
    );
    expect(answer).to.include({ status: 200, body: 'yes' });
  });

  it('cuts an answer whose decoded size passes the cap, keeping its status', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(1_000_000, 'a'));
    expect(bomb.length).to.be.below(2000);
    handler = (_req, res) => res.writeHead(503, { 'content-encoding': 'gzip' }).end(bomb);
    const err = await outbound.sendOnce({ method: 'GET', url: `${url}/x`, headers: {} }, options({ maxResponseBytes: 10_000 })).catch((e) => e);
    expect(err).to.be.instanceOf(OutboundError);
    expect(err).to.include({ failure: 'too-large' });
    expect(err.answered.status).to.equal(503);
  });

  it('keeps at most the pool limit of sockets to one origin, however many sends wait', async () => {
    handler = (_req, res) => setTimeout(() => res.writeHead(200).end('ok'), 20);
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => outbound.sendOnce({ method: 'POST', url: `${url}/cb`, headers: {}, body: 'x' }, options())),
    );
    expect(answers.every((a) => a.status === 200)).to.equal(true);
    expect(mostOpen).to.equal(2);
  });

  it('times out a peer that never answers, as a timeout the peer may have received', async () => {
    handler = () => undefined;
    const err = await outbound.sendOnce({ method: 'POST', url: `${url}/cb`, headers: {}, body: 'x' }, options({ timeoutMs: 100 })).catch((e) => e);
    expect(err).to.include({ failure: 'timeout', mayHaveArrived: true });
  });

  it('a refused connection never arrived', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const err = await outbound.sendOnce({ method: 'POST', url: `http://127.0.0.1:${port}/`, headers: {}, body: 'x' }, options()).catch((e) => e);
    expect(err).to.include({ failure: 'unreachable', mayHaveArrived: false });
  });
});
