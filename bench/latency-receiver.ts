import http from 'node:http';

/**
 * The callback receiver of the latency scenarios, in its own process: answers 200 to every POST
 * and notes when each arrived (epoch ms, this machine's clock, as the sender's) with its
 * instance and its events' object ids. `GET /arrivals` answers what it noted.
 */
const arrivals: Array<{ at: number; instanceId: number; objectIds: string[] }> = [];
const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/arrivals') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(arrivals));
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = Date.now();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { instanceId: number; events?: Array<{ objectId: string }> };
      arrivals.push({ at, instanceId: body.instanceId, objectIds: (body.events ?? []).map((e) => e.objectId) });
    } catch {
      // Not a notification: not counted.
    }
  });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}/callback` })));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
