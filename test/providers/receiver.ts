import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventEmitter } from 'node:events';
import { XMLParser } from 'fast-xml-parser';

/**
 * A callback receiver for delivery tests: a real HTTP server on loopback that records every request
 * and answers from a script (`respondWith`), then with `defaultStatus`. `waitFor(n)` resolves when
 * n requests have arrived; `close()` destroys open sockets so hung requests end the test quickly.
 */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: Buffer;
  /** JSON, XML or form bodies parsed; the text otherwise. */
  body: unknown;
  at: number;
}
export interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  delayMs?: number;
  /** Never answer (the sender must time out). */
  hang?: boolean;
}

export class Receiver {
  readonly received: ReceivedRequest[] = [];
  defaultStatus = 200;
  /** Delay every default answer (to make overlapping deliveries observable). */
  defaultDelayMs = 0;
  /** The most requests with one `webhook-id` ever in flight at once. */
  maxConcurrentPerId = 0;
  private readonly inFlightById = new Map<string, number>();
  defaultBody: unknown = { ok: true };
  private readonly script: ScriptedAnswer[] = [];
  private readonly events = new EventEmitter();
  private readonly sockets = new Set<import('node:net').Socket>();

  private constructor(private readonly server: http.Server, readonly url: string) {}

  static async start(): Promise<Receiver> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const r = new Receiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('request', (req, res) => void r.handle(req, res));
    server.on('connection', (s) => {
      r.sockets.add(s);
      s.on('close', () => r.sockets.delete(s));
    });
    return r;
  }

  respondWith(...answers: ScriptedAnswer[]): void {
    this.script.push(...answers);
  }

  waitFor(count: number, timeoutMs = 5000): Promise<ReceivedRequest[]> {
    if (this.received.length >= count) return Promise.resolve(this.received.slice(0, count));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.events.off('request', check);
        reject(new Error(`expected ${count} callback requests within ${timeoutMs} ms, got ${this.received.length}`));
      }, timeoutMs);
      const check = () => {
        if (this.received.length < count) return;
        clearTimeout(timer);
        this.events.off('request', check);
        resolve(this.received.slice(0, count));
      };
      this.events.on('request', check);
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const type = String(req.headers['content-type'] ?? '');
    this.received.push({ method: req.method ?? 'POST', path: req.url ?? '/', headers: req.headers, raw, body: parse(raw, type), at: Date.now() });
    this.events.emit('request');
    const id = String(req.headers['webhook-id'] ?? '');
    const n = (this.inFlightById.get(id) ?? 0) + 1;
    this.inFlightById.set(id, n);
    this.maxConcurrentPerId = Math.max(this.maxConcurrentPerId, n);
    try {
      const answer = this.script.shift() ?? { status: this.defaultStatus, body: this.defaultBody, delayMs: this.defaultDelayMs };
      if (answer.hang) return;
      if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
      if (res.destroyed) return;
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
    } finally {
      this.inFlightById.set(id, (this.inFlightById.get(id) ?? 1) - 1);
    }
  }
}

function parse(raw: Buffer, type: string): unknown {
  const text = raw.toString('utf8');
  try {
    if (type.includes('json')) return JSON.parse(text);
    if (type.includes('xml')) return new XMLParser({ parseTagValue: false }).parse(text);
    if (type.includes('x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text));
  } catch {
    // keep the text
  }
  return text;
}
