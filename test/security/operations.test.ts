import { expect } from 'chai';
import got from 'got';
import { API_TOKEN, startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/raw-socket.js';

describe('security: operations endpoints and connection limits (finding 17)', () => {
  let t: TestGateway | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('keeps /metrics behind the token unless metrics.public is set', async () => {
    t = await startGateway();
    expect((await got(`${t.url}/metrics`, { throwHttpErrors: false })).statusCode).to.equal(401);
    expect((await got(`${t.url}/metrics`, { headers: { authorization: `Bearer ${API_TOKEN}` } })).body).to.include('pollgate_');
    await t.close();
    t = await startGateway({ config: { metrics: { public: true } } });
    expect((await got(`${t.url}/metrics`)).statusCode).to.equal(200);
  });

  it('answers an unreachable database in /health/ready with a generic message, not the driver error', async () => {
    t = await startGateway();
    await t.gateway.db.destroy();
    // No retries: got would retry the 503 twice, a second and two apart.
    const res = await got(`${t.url}/health/ready`, { throwHttpErrors: false, responseType: 'json', retry: { limit: 0 } });
    expect(res.statusCode).to.equal(503);
    expect(res.body).to.deep.include({
      status: 'unavailable',
      database: 'unreachable',
      message: 'the database is unreachable; the gateway log has the details',
    });
    expect(JSON.stringify(res.body)).not.to.match(/acquire|pool|sqlite|postgres|ECONN/i);
  });

  it('closes a connection whose headers do not arrive within server.headersTimeoutSeconds', async () => {
    t = await startGateway({ config: { server: { headersTimeoutSeconds: 0.2 } } });
    const slow = connect(t.url, 'GET /health HTTP/1.1\r\nHost: x\r\n');
    const { answer, ms } = await slow.closed;
    expect(answer).to.match(/^HTTP\/1\.1 408/);
    expect(ms).to.be.below(4000);
  });

  it('refuses connections past server.maxConnections', async () => {
    t = await startGateway({ config: { server: { maxConnections: 2 } } });
    // Two kept-alive connections, each served once (a connection still without a request would give its place up).
    const held = [connect(t.url, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n'), connect(t.url, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n')];
    await Promise.all(held.map((c) => new Promise((r) => c.socket.once('data', r))));
    const third = connect(t.url, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    const { answer } = await third.closed;
    expect(answer).to.equal('');
    for (const c of held) c.socket.destroy();
    // Served again once the server has seen them close (retried every 10 ms, not got's 1 s back-off).
    expect((await got(`${t.url}/health`, { retry: { limit: 20, calculateDelay: ({ computedValue }) => (computedValue ? 10 : 0) } })).statusCode).to.equal(200);
  });
});
