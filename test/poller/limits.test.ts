import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { createInstance, pollNow, providerConnector, registerConnector } from './helpers.js';

/**
 * A provider answer is streamed and cut off at `provider.maxResponseBytes`: the poll fails with a
 * clear error, and the provider's endless answer is not read (nor buffered) past the cap.
 */
describe('polling: provider answers larger than provider.maxResponseBytes', () => {
  let t: TestGateway;
  let server: http.Server;
  let url: string;
  const CAP = 256 * 1024;
  const CHUNK = Buffer.alloc(64 * 1024, 'x');
  let sent = 0;
  let closed: Promise<void>;

  beforeEach(async () => {
    sent = 0;
    // Answers an endless JSON array (no Content-Length) until the client goes away.
    server = http.createServer((_req, res) => {
      closed = new Promise((resolve) => res.once('close', () => resolve()));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('[');
      const pump = () => {
        while (!res.destroyed && sent < 1024 * 1024 * 1024) {
          sent += CHUNK.length;
          if (!res.write(`"${CHUNK.toString()}",`)) return void res.once('drain', pump);
        }
      };
      pump();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    t = await startGateway({ config: { provider: { maxResponseBytes: CAP } } });
    await registerConnector(t, providerConnector('huge'));
  });

  afterEach(async () => {
    await t.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('fails the poll naming the cap, and stops reading the answer', async () => {
    const { id } = await createInstance(t, 'huge', url);
    t.clock.advance(60_000);
    const result = await pollNow(t, id);
    expect(result.contacts.error).to.match(/the answer exceeded 262144 bytes and was not read/);
    await closed;
    // The provider could push at most the cap plus what sat in socket buffers: far from 1 GiB.
    expect(sent).to.be.below(16 * 1024 * 1024);
    const status = (await t.api.get(`instances/${id}/status`)).body as unknown as { objects: Record<string, { lastError: string | null }> };
    expect(status.objects.contacts.lastError).to.match(/exceeded 262144 bytes/);
  });
});
