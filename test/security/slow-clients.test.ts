import { expect } from 'chai';
import got from 'got';
import { API_TOKEN, startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/raw-socket.js';

/** The value of one series of `pollgate_http_connections_closed_total`. */
async function closedCount(t: TestGateway, reason: string): Promise<number> {
  const text = await got(`${t.url}/metrics`, { headers: { authorization: `Bearer ${API_TOKEN}` } }).text();
  const line = text.split('\n').find((l) => l.startsWith(`pollgate_http_connections_closed_total{reason="${reason}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/**
 * A slowloris client: a request line, then one header line every 50 ms; after `lines` of them it
 * completes its headers (so that without a cut it is answered and closes, rather than hanging).
 */
function slowloris(url: string, lines: number) {
  const c = connect(url, 'GET /health HTTP/1.1\r\nHost: x\r\n');
  let sent = 0;
  const timer = setInterval(() => {
    if (c.socket.destroyed) return clearInterval(timer);
    c.socket.write(++sent < lines ? `X-Slow-${sent}: 1\r\n` : 'Connection: close\r\n\r\n');
    if (sent >= lines) clearInterval(timer);
  }, 50);
  void c.closed.then(() => clearInterval(timer));
  return c;
}

describe('security: slow clients cannot lock others out', () => {
  let t: TestGateway | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('closes connections past server.maxConnectionsPerAddress while other clients are served', async () => {
    t = await startGateway({ config: { server: { maxConnections: 8, maxConnectionsPerAddress: 3 } } });
    // One client (127.0.0.2) opens more connections than the whole server allows.
    const flood = Array.from({ length: 10 }, () => connect(t!.url, '', '127.0.0.2'));
    await Promise.all(flood.map((c) => c.connected));
    // Accepted after the flood (in order): another client is still served.
    const health = await got(`${t.url}/health`, { retry: { limit: 0 } });
    expect(health.statusCode).to.equal(200);
    let closed = 0;
    await new Promise<void>((resolve) => {
      for (const c of flood) void c.closed.then(() => ++closed === 7 && resolve());
    });
    const held = flood.filter((c) => !c.socket.destroyed);
    expect(held).to.have.length(3);
    expect(await closedCount(t, 'per_address')).to.equal(7);
    // A connection the client gives back frees its place (retried every 10 ms until the server saw it close).
    held[0].socket.destroy();
    const again = await got(`${t.url}/health`, {
      localAddress: '127.0.0.2',
      retry: { limit: 20, calculateDelay: ({ computedValue }) => (computedValue ? 10 : 0) },
    });
    expect(again.statusCode).to.equal(200);
    for (const c of held) c.socket.destroy();
  });

  it('gives a new connection the place of the oldest one still without a request at server.maxConnections', async () => {
    t = await startGateway({ config: { server: { maxConnections: 3 } } });
    const kept = connect(t.url, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => kept.socket.once('data', r));
    // Two connections of another client that send part of a request head and no more: the server is full.
    const idle = [connect(t.url, 'GET /health HTTP/1.1\r\n', '127.0.0.2'), connect(t.url, 'GET /health HTTP/1.1\r\n', '127.0.0.2')];
    await Promise.all(idle.map((c) => c.connected));
    const health = await got(`${t.url}/health`, { retry: { limit: 0 } });
    expect(health.statusCode).to.equal(200);
    // The oldest idle one gave its place up, with a 503; the served one and the newer idle one stay.
    expect((await idle[0].closed).answer).to.match(/^HTTP\/1\.1 503/);
    expect(idle[1].socket.destroyed).to.equal(false);
    expect(kept.socket.destroyed).to.equal(false);
    expect(await closedCount(t, 'evicted')).to.equal(1);
    for (const c of [kept, idle[1]]) c.socket.destroy();
  });

  it('cuts clients that trickle their headers after server.busyHeadersTimeoutSeconds once the server is busy, not kept-alive ones', async () => {
    t = await startGateway({
      config: {
        server: { maxConnections: 10, busyConnectionsShare: 0.5, busyHeadersTimeoutSeconds: 0.2, headersTimeoutSeconds: 60, requestTimeoutSeconds: 120 },
      },
    });
    // Five kept-alive clients, each served once: five connections open, so the server is busy
    // (from five on) and stays busy while the slow ones below are cut, whatever order that happens in.
    const kept = Array.from({ length: 5 }, () => connect(t!.url, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n'));
    await Promise.all(kept.map((c) => new Promise((r) => c.socket.once('data', r))));
    // Five trickling clients. Each would finish its headers after 3 s and be answered 200; cut, it is
    // answered 408 instead.
    const slow = Array.from({ length: 5 }, () => slowloris(t!.url, 60));
    const answers = await Promise.all(slow.map((c) => c.closed));
    for (const { answer } of answers) expect(answer).to.match(/^HTTP\/1\.1 408/);
    expect(await closedCount(t, 'busy_timeout')).to.equal(5);
    // The kept-alive connections were left alone and serve their next request.
    for (const c of kept) {
      expect(c.socket.destroyed).to.equal(false);
      const next = new Promise<string>((r) => c.socket.once('data', (d) => r(String(d))));
      c.socket.write('GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      expect(await next).to.match(/^HTTP\/1\.1 200/);
      await c.closed;
    }
  });

  it('keeps server.headersTimeoutSeconds for a slow client while the server is not busy', async () => {
    t = await startGateway({
      config: {
        server: { maxConnections: 10, busyConnectionsShare: 0.5, busyHeadersTimeoutSeconds: 0.2, headersTimeoutSeconds: 60, requestTimeoutSeconds: 120 },
      },
    });
    // Ten lines, 0.5 s: more than twice the busy timeout, with one connection open.
    const { answer } = await slowloris(t.url, 10).closed;
    expect(answer).to.match(/^HTTP\/1\.1 200/);
    expect(await closedCount(t, 'busy_timeout')).to.equal(0);
  });
});
