import http from 'node:http';

/** A bare node:http receiver answering 200 to everything, in its own process (delivery scenario). */
let count = 0;
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    count++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}/callback` })));
process.on('SIGTERM', () => {
  console.log(JSON.stringify({ count }));
  server.close(() => process.exit(0));
});
