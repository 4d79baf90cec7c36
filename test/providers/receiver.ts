import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import { XMLParser } from 'fast-xml-parser';

/**
 * A callback receiver for delivery tests: a real HTTP server on 127.0.0.1 (OS-chosen port) that
 * records every request and answers from a script (`respondWith`, first in first out), then with
 * `defaultStatus`/`defaultBody` (or holds every request: `defaultHang`). `waitFor(n)` resolves
 * when n requests have arrived (driven by an event per request, no polling sleeps); `close()`
 * destroys open sockets so that hung requests end the test quickly.
 */
export interface ReceivedRequest {
  method: string;
  /** The path with its query string, as sent. */
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: Buffer;
  /** JSON, XML or form bodies parsed; the text otherwise (also when parsing fails). */
  body: unknown;
  at: number;
}
export interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON. */
  body?: unknown;
  delayMs?: number;
  /** Never answer (the sender must time out). */
  hang?: boolean;
}

export class Receiver {
  /** Every request so far, oldest first (tests may empty it: `received.length = 0`). */
  readonly received: ReceivedRequest[] = [];
  defaultStatus = 200;
  defaultBody: unknown = { ok: true };
  /** Delay every default answer (to make overlapping deliveries observable). */
  defaultDelayMs = 0;
  /** Never answer by default (a receiver that holds the socket: the sender must time out). */
  defaultHang = false;
  /** The most requests with one `webhook-id` ever in flight at once (hung ones count until closed). */
  maxConcurrentPerId = 0;
  /** Requests in flight now, and the most ever at once (hung ones count until their connection closes). */
  inFlight = 0;
  maxInFlight = 0;
  private readonly inFlightById = new Map<string, number>();
  private readonly hung = new Set<http.ServerResponse>();
  private readonly script: ScriptedAnswer[] = [];
  private readonly arrivals = new EventEmitter();
  private readonly sockets = new Set<Socket>();
  private readonly delayed = new Map<NodeJS.Timeout, () => void>();

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  /** On an OS-chosen port, or on `port` (a receiver coming back where a closed one was). */
  static async start(port = 0): Promise<Receiver> {
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    const receiver = new Receiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('request', (req, res) => void receiver.handle(req, res));
    server.on('connection', (socket) => {
      receiver.sockets.add(socket);
      socket.on('close', () => receiver.sockets.delete(socket));
    });
    return receiver;
  }

  /** Queues answers for the next requests, in order; afterwards the defaults apply again. */
  respondWith(...answers: ScriptedAnswer[]): void {
    this.script.push(...answers);
  }

  /** Resolves with the first `count` requests once they have arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs = 5000): Promise<ReceivedRequest[]> {
    if (this.received.length >= count) return Promise.resolve(this.received.slice(0, count));
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.received.length < count) return;
        clearTimeout(timer);
        this.arrivals.off('request', check);
        resolve(this.received.slice(0, count));
      };
      const timer = setTimeout(() => {
        this.arrivals.off('request', check);
        reject(new Error(`receiver: expected ${count} request(s) within ${timeoutMs} ms, got ${this.received.length}`));
      }, timeoutMs);
      this.arrivals.on('request', check);
    });
  }

  async close(): Promise<void> {
    for (const [timer, resolve] of this.delayed) {
      clearTimeout(timer);
      resolve(); // the answer then finds its socket destroyed and gives up
    }
    this.delayed.clear();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let raw: Buffer;
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      raw = Buffer.concat(chunks);
    } catch {
      return; // the sender gave up mid-body: nothing arrived
    }
    const type = String(req.headers['content-type'] ?? '');
    this.received.push({ method: req.method ?? 'POST', path: req.url ?? '/', headers: req.headers, raw, body: parseBody(raw, type), at: Date.now() });
    this.track(String(req.headers['webhook-id'] ?? ''), res);
    this.arrivals.emit('request');

    const answer = this.script.shift() ?? { status: this.defaultStatus, body: this.defaultBody, delayMs: this.defaultDelayMs, hang: this.defaultHang };
    if (answer.hang) {
      this.hung.add(res);
      res.once('close', () => this.hung.delete(res));
      return;
    }
    if (answer.delayMs) await this.sleep(answer.delayMs);
    if (res.destroyed) return;
    const body = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(body);
  }

  /** Drops the connections of the requests it is holding (the sender sees them reset); how many. */
  dropHung(): number {
    const held = [...this.hung];
    for (const res of held) res.socket?.destroy();
    return held.length;
  }

  /** Counts a request as in flight until its response is finished or its connection closes. */
  private track(id: string, res: http.ServerResponse): void {
    const n = (this.inFlightById.get(id) ?? 0) + 1;
    this.inFlightById.set(id, n);
    this.maxConcurrentPerId = Math.max(this.maxConcurrentPerId, n);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.once('close', () => {
      this.inFlightById.set(id, (this.inFlightById.get(id) ?? 1) - 1);
      this.inFlight--;
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.delayed.delete(timer);
        resolve();
      }, ms);
      this.delayed.set(timer, resolve);
    });
  }
}

function parseBody(raw: Buffer, type: string): unknown {
  const text = raw.toString('utf8');
  try {
    if (type.includes('json')) return JSON.parse(text);
    if (type.includes('xml')) return new XMLParser({ parseTagValue: false }).parse(text);
    if (type.includes('x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text));
  } catch {
    // keep the text: a malformed body is still what arrived
  }
  return text;
}
