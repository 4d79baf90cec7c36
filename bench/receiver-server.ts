import http from 'node:http';

/**
 * A bare node:http callback receiver answering 200 to every POST, in its own process (delivery
 * and ingress-with-delivery scenarios). It counts requests, distinct notifications (`webhook-id`)
 * and the events in their JSON bodies; `GET /count` answers those counts, and they are printed on
 * SIGTERM too.
 */
let requests = 0;
let events = 0;
const notifications = new Set<string>();
const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/count') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ requests, notifications: notifications.size, events }));
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    requests++;
    const id = req.headers['webhook-id'];
    if (typeof id === 'string' && !notifications.has(id)) {
      notifications.add(id);
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events?: unknown[] };
        events += Array.isArray(body.events) ? body.events.length : 0;
      } catch {
        // Not JSON: counted as a request only.
      }
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}/callback` })));
process.on('SIGTERM', () => {
  console.log(JSON.stringify({ requests, notifications: notifications.size, events }));
  server.close(() => process.exit(0));
});
