import net from 'node:net';

/**
 * A raw connection to `url` that sends `data` (from `localAddress`, e.g. `127.0.0.2` to be another
 * loopback client) and resolves `closed` when the server closes it, with what it answered.
 */
export function connect(
  url: string,
  data = '',
  localAddress?: string,
): { socket: net.Socket; connected: Promise<void>; closed: Promise<{ answer: string; ms: number }> } {
  const { hostname, port } = new URL(url);
  const started = Date.now();
  const socket = net.connect({ port: Number(port), host: hostname, localAddress });
  let answer = '';
  socket.on('data', (d) => (answer += d));
  socket.on('error', () => {});
  if (data) socket.write(data);
  return {
    socket,
    connected: new Promise((resolve) => socket.once('connect', () => resolve())),
    closed: new Promise((resolve) => socket.on('close', () => resolve({ answer, ms: Date.now() - started }))),
  };
}
