import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The emulated provider of the scheduling scenarios (capacity, 3 nodes), in a process of its own:
 * `GET /n/<instance>/items` answers an empty page at once and is logged (instance, time). Prints
 * one JSON line {url}; `GET /log` answers the log as [[instance, epoch ms], …] and clears it.
 */
let log: Array<[number, number]> = [];
const server = http.createServer((req, res) => {
  const m = /^\/n\/(\d+)\/items/.exec(req.url ?? '');
  if (m) {
    log.push([Number(m[1]), Date.now()]);
    res.writeHead(200, { 'content-type': 'application/json' });
    return void res.end('[]');
  }
  if (req.url === '/log') {
    const body = JSON.stringify(log);
    log = [];
    res.writeHead(200, { 'content-type': 'application/json' });
    return void res.end(body);
  }
  res.writeHead(404).end();
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
process.on('SIGTERM', () => process.exit(0));
