import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Metrics } from '../metrics.js';

export interface ConnectionLimits {
  maxConnections: number;
  maxConnectionsPerAddress: number;
  headersTimeoutSeconds: number;
  busyConnectionsShare: number;
  busyHeadersTimeoutSeconds: number;
}

/**
 * The key a client's connections are counted under: its IPv4 address (an IPv4-mapped IPv6 one
 * included), or for IPv6 its /64 — one host is commonly handed a whole /64, so a per-address count
 * of IPv6 would cap nothing.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  if (!address.includes(':')) return address;
  const [head, tail] = address.split('%')[0].toLowerCase().split('::');
  const groups = (part: string | undefined) => (part ? part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : []);
  const before = groups(head);
  const after = groups(tail);
  const full = tail === undefined ? before : [...before, ...Array<string>(Math.max(0, 8 - before.length - after.length)).fill('0'), ...after];
  return `${full
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

/** What an evicted connection is told before it is closed (as node tells a timed-out one its 408). */
const EVICTED = 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';

/**
 * Keeps one client, or a crowd of slow ones, from holding every connection of `server`:
 * - a client address (see `addressKey`) holds at most `maxConnectionsPerAddress` connections: a
 *   further one is closed as soon as it is accepted;
 * - with `maxConnections` open, a new connection takes the place of the oldest one that has not
 *   sent a complete request head yet (answered 503 and closed); when every open one has, the new
 *   one is closed;
 * - while at least `busyConnectionsShare` of `maxConnections` are open the server is busy, and a
 *   request's headers must then arrive within `busyHeadersTimeoutSeconds` instead of
 *   `headersTimeoutSeconds` (node's own check, every `connectionsCheckingInterval`, answers 408 and
 *   closes). Node times a request's headers from its first byte (or from the accept), so a kept-alive
 *   client idle between requests, or one that sends its headers at once, is never cut by it.
 * Every connection closed this way is counted in `pollgate_http_connections_closed_total`.
 */
export function guardConnections(server: Server, limits: ConnectionLimits, metrics: Metrics): void {
  const perAddress = new Map<string, number>();
  /** The connections served (with their client's key), and in accept order those with no request head yet. */
  const admitted = new Map<Socket, string>();
  const waiting = new Set<Socket>();
  const normalMs = limits.headersTimeoutSeconds * 1000;
  const busyMs = Math.min(normalMs, limits.busyHeadersTimeoutSeconds * 1000);
  const busyAt = Math.max(1, Math.ceil(limits.busyConnectionsShare * limits.maxConnections));
  const busy = () => server.headersTimeout === busyMs && busyMs < normalMs;
  const judge = () => {
    const timeout = admitted.size >= busyAt ? busyMs : normalMs;
    if (server.headersTimeout !== timeout) server.headersTimeout = timeout;
    metrics.httpConnections.set(admitted.size);
    metrics.httpBusy.set(timeout < normalMs ? 1 : 0);
  };
  const release = (socket: Socket) => {
    const key = admitted.get(socket);
    if (key === undefined) return;
    admitted.delete(socket);
    waiting.delete(socket);
    const left = (perAddress.get(key) ?? 1) - 1;
    if (left > 0) perAddress.set(key, left);
    else perAddress.delete(key);
    judge();
  };
  const refuse = (socket: Socket, reason: string) => {
    metrics.connectionsClosed.inc({ reason });
    socket.destroy();
  };

  // node's own cap only bounds the sockets alive for a moment while this one refuses them.
  server.maxConnections = 2 * limits.maxConnections;
  server.headersTimeout = normalMs;
  server.on('drop', () => metrics.connectionsClosed.inc({ reason: 'max_connections' }));
  server.on('request', (req: IncomingMessage) => waiting.delete(req.socket));
  server.on('connection', (socket: Socket) => {
    // Undefined when the peer is already gone: that socket closes by itself.
    if (socket.remoteAddress === undefined) return;
    const key = addressKey(socket.remoteAddress);
    const held = perAddress.get(key) ?? 0;
    if (held >= limits.maxConnectionsPerAddress) return refuse(socket, 'per_address');
    if (admitted.size >= limits.maxConnections) {
      const [oldest] = waiting;
      if (!oldest) return refuse(socket, 'max_connections');
      metrics.connectionsClosed.inc({ reason: 'evicted' });
      oldest.write(EVICTED);
      oldest.destroy();
      release(oldest);
    }
    perAddress.set(key, held + 1);
    admitted.set(socket, key);
    waiting.add(socket);
    judge();
    // node closes a request that ran out of time with this error (after answering 408).
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') metrics.connectionsClosed.inc({ reason: busy() ? 'busy_timeout' : 'timeout' });
    });
    socket.once('close', () => release(socket));
  });
}
