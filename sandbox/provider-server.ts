import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Collection } from './collection.js';
import { listRecords } from './listing.js';

export { Collection, STYLES, type ChangeAction, type ProviderRecord, type Style } from './collection.js';

/**
 * An emulated provider API: a small but real HTTP server on loopback serving in-memory
 * collections, used by tests, the README tour (the sandbox) and benchmarks. Only node built-ins:
 * `npm run build` compiles this folder for `npm run sandbox`.
 *
 * GET /<collection> lists records sorted by updated_at then id, filtered by `updated_since` /
 * `updated_at_gt` (strictly after; ISO or epoch seconds), `updated_at_gte`, `created_since`, and
 * `<field>=<value>` equality on any other param. The collection's `style` decides paging and shape:
 *   page   (default) `page` (from 1) + `per_page`      → bare array
 *   offset `offset` + `limit`                           → bare array
 *   cursor `cursor` + `limit`                           → {data: [...], next_cursor: "…"|null}
 *   link   `page` + `per_page`                          → bare array + Link: <…>; rel="next"
 *   hal    `page` + `per_page`                          → {_embedded: {items}, _links: {next: {href}}}
 * The style is set per collection (`collection.style`), not per query, so the gateway's requests
 * carry only what a real provider would see. Sizes default to `collection.defaultPageSize`.
 * Bad paging or time parameters answer 400 naming the parameter.
 *
 * GET/PUT/PATCH/DELETE /<collection>/<id> and POST /<collection> read and change records (JSON
 * object bodies; malformed JSON → 400), stamping created_at/updated_at with the provider's clock
 * (`now`, settable so tests control time). `requireAuth` makes every request, routes included,
 * answer 401 without the expected credentials; `failNext`/`delayNext` inject faults; `route` adds
 * ad-hoc endpoints (newest first, before collections); `inspect` sees every request first.
 */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}
export interface CannedResponse {
  status: number;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON. */
  body?: unknown;
}
export type RouteRequest = RecordedRequest & { params: Record<string, string>; json: unknown };
export type Route = (req: RouteRequest) => CannedResponse | Promise<CannedResponse>;
/** A path prefix: `/contacts` matches `/contacts` and `/contacts/7`. */
export type Match = { path?: string };
/** Credentials every request must carry; `header` without `value` accepts any non-empty value. */
export type RequiredAuth =
  | { type: 'basic'; username: string; password: string }
  | { type: 'bearer'; token: string }
  | { type: 'header'; name: string; value?: string }
  /** The test decides (OAuth: a token it issued, a signature an independent library checks). */
  | { type: 'check'; accept(req: RecordedRequest, url: URL): boolean };
export interface StartOptions {
  port?: number;
  host?: string;
  requireAuth?: RequiredAuth;
}

export class EmulatedProvider {
  readonly requests: RecordedRequest[] = [];
  /** Record every request (turned off in benchmarks). */
  recordRequests = true;
  /** The provider's clock; tests point it at the gateway's ManualClock. */
  now: () => number = () => Date.now();
  requireAuth?: RequiredAuth;
  /** What a request without the expected credentials gets: a provider's own error body. */
  unauthorized: CannedResponse = { status: 401, body: { error: 'unauthorized: missing or wrong credentials' } };
  /**
   * Runs first for every request (before faults and auth): an answer refuses the request. Provider
   * emulators check requests against the provider's API description here.
   */
  inspect?: (req: RecordedRequest) => CannedResponse | undefined;
  private readonly collections = new Map<string, Collection>();
  private readonly faults: Array<{ remaining: number; response: CannedResponse; match?: Match }> = [];
  private readonly delays: Array<{ remaining: number; ms: number; match?: Match }> = [];
  private readonly routes: Array<{ method: string; pattern: RegExp; keys: string[]; handler: Route }> = [];
  private readonly inFlightBy = new Map<string, number>();
  private readonly maxInFlightBy = new Map<string, number>();
  private inFlightTotal = 0;
  private readonly sockets = new Set<Socket>();
  private readonly pendingDelays = new Set<{ timer: NodeJS.Timeout; done: () => void }>();

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(opts: StartOptions = {}): Promise<EmulatedProvider> {
    const host = opts.host ?? '127.0.0.1';
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`emulated provider cannot listen on ${host}:${opts.port ?? 0}: ${err.message}`)));
      server.listen(opts.port ?? 0, host, resolve);
    });
    const { port } = server.address() as AddressInfo;
    const provider = new EmulatedProvider(server, `http://${host}:${port}`);
    provider.requireAuth = opts.requireAuth;
    server.on('request', (req, res) => void provider.handle(req, res));
    server.on('connection', (socket) => {
      provider.sockets.add(socket);
      socket.on('close', () => provider.sockets.delete(socket));
    });
    return provider;
  }

  /** Shorthand for `requireAuth = {type: 'header', name, value}`. */
  set requireHeader(header: { name: string; value?: string } | undefined) {
    this.requireAuth = header && { type: 'header', ...header };
  }

  /** The collection served at /<name>, created on first use. */
  collection(name: string): Collection {
    let c = this.collections.get(name);
    if (!c) {
      c = new Collection(name, () => this.now());
      this.collections.set(name, c);
    }
    return c;
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  /** The next `n` requests matching `match.path` (a path prefix) answer `response`, before auth. */
  failNext(n: number, response: CannedResponse, match?: Match): void {
    this.faults.push({ remaining: n, response, match });
  }

  /** The next `n` matching requests wait `ms` before being answered (a slow or hung provider). */
  delayNext(n: number, ms: number, match?: Match): void {
    this.delays.push({ remaining: n, ms, match });
  }

  /** An ad-hoc endpoint: an exact path or one with `:params`, e.g. route('DELETE', '/webhooks/:id', …). */
  route(method: string, path: string, handler: Route): void {
    const keys: string[] = [];
    const source = path
      .split(/(:[A-Za-z_][A-Za-z0-9_]*)/)
      .map((part) => (part.startsWith(':') ? (keys.push(part.slice(1)), '([^/]+)') : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('');
    this.routes.unshift({ method: method.toUpperCase(), pattern: new RegExp(`^${source}$`), keys, handler });
  }

  /** Requests being answered now: for a key (first path segment, or a full path), or in all. */
  inFlight(key?: string): number {
    return key === undefined ? this.inFlightTotal : (this.inFlightBy.get(key) ?? 0);
  }

  /** The most requests ever in flight at once for a key (first path segment, or a full path). */
  maxInFlight(key: string): number {
    return this.maxInFlightBy.get(key) ?? 0;
  }

  /** Stops listening, ends delayed answers and destroys open connections. */
  async close(): Promise<void> {
    for (const pending of this.pendingDelays) {
      clearTimeout(pending.timer);
      pending.done();
    }
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private take<T extends { remaining: number; match?: Match }>(list: T[], path: string): T | undefined {
    const i = list.findIndex((f) => f.remaining > 0 && (!f.match?.path || path.startsWith(f.match.path)));
    if (i === -1) return undefined;
    const found = list[i];
    if (--found.remaining === 0) list.splice(i, 1);
    return found;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const keys = [url.pathname.split('/')[1] ?? '', url.pathname];
    this.enter(keys);
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: this.now(),
      };
      if (this.recordRequests) this.requests.push(recorded);
      const delay = this.take(this.delays, url.pathname);
      if (delay) await this.sleep(delay.ms);
      const answer = await this.answer(recorded, url);
      if (res.destroyed) return;
      const body = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(body);
    } catch (err) {
      // A route handler that throws answers 500, like a buggy provider; an aborted request just ends.
      if (res.headersSent || res.destroyed) return void res.destroy();
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: (err as Error).message }));
    } finally {
      this.leave(keys);
    }
  }

  private enter(keys: string[]): void {
    this.inFlightTotal++;
    for (const k of keys) {
      const n = (this.inFlightBy.get(k) ?? 0) + 1;
      this.inFlightBy.set(k, n);
      if (n > (this.maxInFlightBy.get(k) ?? 0)) this.maxInFlightBy.set(k, n);
    }
  }

  private leave(keys: string[]): void {
    this.inFlightTotal--;
    for (const k of keys) this.inFlightBy.set(k, (this.inFlightBy.get(k) ?? 1) - 1);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const pending = { timer: setTimeout(() => pending.done(), ms), done: () => (this.pendingDelays.delete(pending), resolve()) };
      this.pendingDelays.add(pending);
    });
  }

  private async answer(req: RecordedRequest, url: URL): Promise<CannedResponse> {
    const refused = this.inspect?.(req);
    if (refused) return refused;
    const fault = this.take(this.faults, url.pathname);
    if (fault) return fault.response;
    if (!isDecodable(url.pathname)) return { status: 400, body: { error: `malformed percent-encoding in path ${url.pathname}` } };
    if (!this.authorized(req, url)) return this.unauthorized;
    let json: unknown;
    const type = String(req.headers['content-type'] ?? '');
    if (req.body && (!type || type.includes('json'))) {
      try {
        json = JSON.parse(req.body);
      } catch (err) {
        return { status: 400, body: { error: `malformed JSON body: ${(err as Error).message}` } };
      }
    }
    for (const r of this.routes) {
      const m = r.method === req.method ? r.pattern.exec(url.pathname) : null;
      if (m) return r.handler({ ...req, json, params: Object.fromEntries(r.keys.map((k, i) => [k, decodeURIComponent(m[i + 1])])) });
    }
    return this.collectionAnswer(req, url, json);
  }

  private authorized(req: RecordedRequest, url: URL): boolean {
    const { headers } = req;
    const auth = this.requireAuth;
    if (!auth) return true;
    if (auth.type === 'check') return auth.accept(req, url);
    if (auth.type === 'header') {
      const value = headers[auth.name.toLowerCase()];
      return typeof value === 'string' && value !== '' && (auth.value === undefined || value === auth.value);
    }
    const expected = auth.type === 'basic' ? `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` : `Bearer ${auth.token}`;
    return headers.authorization === expected;
  }

  private collectionAnswer(req: RecordedRequest, url: URL, json: unknown): CannedResponse {
    const [, name, id, extra] = url.pathname.split('/').map((s) => decodeURIComponent(s));
    const c = name ? this.collections.get(name) : undefined;
    if (!c || extra !== undefined) return { status: 404, body: { error: `no such path ${url.pathname}` } };
    const isObject = typeof json === 'object' && json !== null && !Array.isArray(json);
    const needsObject = { status: 400, body: { error: `${req.method} ${url.pathname} needs a JSON object body` } };
    if (!id) {
      if (req.method === 'GET') return listRecords(c, url);
      if (req.method !== 'POST')
        return { status: 405, headers: { allow: 'GET, POST' }, body: { error: `method ${req.method} not allowed on ${url.pathname}` } };
      if (!isObject) return needsObject;
      // The provider assigns ids to created records, as real APIs do.
      const { id: _ignored, ...fields } = json as Record<string, unknown>;
      return { status: 201, body: c.upsert(fields) };
    }
    const record = c.get(id);
    if (!record) return { status: 404, body: { error: `no record ${id} in ${name}` } };
    switch (req.method) {
      case 'GET':
        return { status: 200, body: record };
      case 'PUT':
      case 'PATCH':
        return isObject ? { status: 200, body: c.update(id, json as Record<string, unknown>) } : needsObject;
      case 'DELETE':
        c.remove(id);
        return { status: 204 };
      default:
        return { status: 405, headers: { allow: 'GET, PUT, PATCH, DELETE' }, body: { error: `method ${req.method} not allowed on ${url.pathname}` } };
    }
  }
}

function isDecodable(path: string): boolean {
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}
