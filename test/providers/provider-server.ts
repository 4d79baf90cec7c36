import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An emulated provider API: a small but real HTTP server on loopback serving in-memory
 * collections, used by tests, the README tour (the sandbox) and benchmarks.
 *
 * GET /<collection> lists records sorted by updated_at then id, filtered by `updated_since` /
 * `updated_at_gt` (strictly after; ISO or epoch seconds), `updated_at_gte`, `created_since`, and
 * `<field>=<value>` equality on other params. The collection's `style` decides paging and shape:
 *   page   (default) `page` (from 1) + `per_page`      → bare array
 *   offset `offset` + `limit`                           → bare array
 *   cursor `cursor` + `limit`                           → {data: [...], next_cursor: "…"|null}
 *   link   `page` + `per_page`                          → bare array + Link: <…>; rel="next"
 *   hal    `page` + `per_page`                          → {_embedded: {items}, _links: {next: {href}}}
 * GET/PUT/PATCH/DELETE /<collection>/<id>, POST /<collection> change records (JSON bodies), stamping
 * created_at/updated_at with the provider's clock (`now`, settable so tests control time).
 */
export type ProviderRecord = Record<string, unknown> & { id: number | string; created_at: string; updated_at: string };
export type Style = 'page' | 'offset' | 'cursor' | 'link' | 'hal';
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
  body?: unknown;
}
export interface Route {
  (req: RecordedRequest & { params: Record<string, string>; json: unknown }): CannedResponse | Promise<CannedResponse>;
}
type Match = { path?: string };

const RESERVED = new Set(['page', 'per_page', 'offset', 'limit', 'cursor', 'updated_since', 'updated_at_gt', 'updated_at_gte', 'created_since']);

export class Collection {
  style: Style = 'page';
  /** Records per page when the request names no size. */
  defaultPageSize = 100;
  private readonly records = new Map<string, ProviderRecord>();
  private nextId = 1;
  private sorted: ProviderRecord[] | null = null;
  /** Called after every change (the sandbox pushes webhooks from here). */
  onChange?: (action: 'created' | 'updated' | 'deleted', record: ProviderRecord) => void;

  constructor(readonly name: string, private readonly clock: () => number) {}

  private stamp(at?: Date | number): string {
    return new Date(at === undefined ? this.clock() : typeof at === 'number' ? at : at.getTime()).toISOString();
  }

  upsert(record: Record<string, unknown>, at?: Date | number): ProviderRecord {
    const id = record.id ?? this.nextId++;
    if (typeof id === 'number' && id >= this.nextId) this.nextId = id + 1;
    const existing = this.records.get(String(id));
    const when = this.stamp(at);
    const full = { ...existing, ...record, id, created_at: (existing?.created_at as string) ?? (record.created_at as string) ?? when, updated_at: when } as ProviderRecord;
    this.records.set(String(id), full);
    this.sorted = null;
    this.onChange?.(existing ? 'updated' : 'created', full);
    return full;
  }

  update(id: number | string, patch: Record<string, unknown>, at?: Date | number): ProviderRecord {
    if (!this.records.has(String(id))) throw new Error(`no record ${id} in ${this.name}`);
    return this.upsert({ ...patch, id: this.records.get(String(id))!.id }, at);
  }

  remove(id: number | string): void {
    const r = this.records.get(String(id));
    if (!r) return;
    this.records.delete(String(id));
    this.sorted = null;
    this.onChange?.('deleted', r);
  }

  get(id: number | string): ProviderRecord | undefined {
    return this.records.get(String(id));
  }

  all(): ProviderRecord[] {
    if (!this.sorted) {
      this.sorted = [...this.records.values()].sort((a, b) => (a.updated_at < b.updated_at ? -1 : a.updated_at > b.updated_at ? 1 : String(a.id).localeCompare(String(b.id), undefined, { numeric: true })));
    }
    return this.sorted;
  }

  /** Bulk insert without change callbacks (benchmarks pre-build 100,000 records). */
  seed(n: number, make: (i: number) => Record<string, unknown> = (i) => ({ name: `record ${i}` }), at?: Date | number): void {
    const when = this.stamp(at);
    for (let i = 0; i < n; i++) {
      const id = this.nextId++;
      this.records.set(String(id), { id, ...make(i), created_at: when, updated_at: when } as ProviderRecord);
    }
    this.sorted = null;
  }

  get size(): number {
    return this.records.size;
  }
}

function parseTime(v: string): number {
  return /^\d+(\.\d+)?$/.test(v) ? Number(v) * 1000 : Date.parse(v);
}

export class EmulatedProvider {
  readonly requests: RecordedRequest[] = [];
  /** The provider's clock; tests point it at the gateway's ManualClock. */
  now: () => number = () => Date.now();
  /** When set, requests must carry this header value (e.g. {name: 'authorization', value: 'Bearer x'}). */
  requireHeader?: { name: string; value?: string };
  private readonly collections = new Map<string, Collection>();
  private readonly faults: Array<{ remaining: number; response: CannedResponse; match?: Match }> = [];
  private readonly delays: Array<{ remaining: number; ms: number; match?: Match }> = [];
  private readonly routes: Array<{ method: string; pattern: RegExp; keys: string[]; handler: Route }> = [];
  private readonly inFlightBy = new Map<string, number>();
  private readonly maxInFlightBy = new Map<string, number>();
  private readonly sockets = new Set<import('node:net').Socket>();
  /** Record every request (off in benchmarks). */
  recordRequests = true;

  private constructor(private readonly server: http.Server, readonly url: string) {}

  static async start(opts: { port?: number; host?: string } = {}): Promise<EmulatedProvider> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const provider = new EmulatedProvider(server, `http://${opts.host ?? '127.0.0.1'}:${port}`);
    server.on('request', (req, res) => void provider.handle(req, res));
    server.on('connection', (s) => {
      provider.sockets.add(s);
      s.on('close', () => provider.sockets.delete(s));
    });
    return provider;
  }

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

  /** The next `n` requests (matching `match.path`, a path prefix) answer `response`. */
  failNext(n: number, response: CannedResponse, match?: Match): void {
    this.faults.push({ remaining: n, response, match });
  }

  /** The next `n` matching requests wait `ms` before being answered. */
  delayNext(n: number, ms: number, match?: Match): void {
    this.delays.push({ remaining: n, ms, match });
  }

  /** An ad-hoc endpoint, e.g. route('POST', '/webhooks', …) or route('DELETE', '/webhooks/:id', …). */
  route(method: string, path: string, handler: Route): void {
    const keys: string[] = [];
    const pattern = new RegExp(`^${path.replace(/:([A-Za-z_]+)/g, (_m, k: string) => (keys.push(k), '([^/]+)'))}$`);
    this.routes.unshift({ method: method.toUpperCase(), pattern, keys, handler });
  }

  /** Requests in flight now, per first path segment (collection). */
  inFlight(key: string): number {
    return this.inFlightBy.get(key) ?? 0;
  }

  /** The most requests ever in flight at once for a key (first path segment, or the full path). */
  maxInFlight(key: string): number {
    return this.maxInFlightBy.get(key) ?? 0;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private take<T extends { remaining: number; match?: Match }>(list: T[], path: string): T | undefined {
    const i = list.findIndex((f) => f.remaining > 0 && (!f.match?.path || path.startsWith(f.match.path)));
    if (i === -1) return undefined;
    const f = list[i];
    if (--f.remaining === 0) list.splice(i, 1);
    return f;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const recorded: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: this.now() };
    if (this.recordRequests) this.requests.push(recorded);
    const keys = [url.pathname.split('/')[1] ?? '', url.pathname];
    for (const k of keys) {
      const n = (this.inFlightBy.get(k) ?? 0) + 1;
      this.inFlightBy.set(k, n);
      this.maxInFlightBy.set(k, Math.max(n, this.maxInFlightBy.get(k) ?? 0));
    }
    try {
      const delay = this.take(this.delays, url.pathname);
      if (delay) await new Promise((r) => setTimeout(r, delay.ms));
      const answer = await this.answer(recorded, url);
      if (res.destroyed) return;
      const body = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(body);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: (err as Error).message }));
    } finally {
      for (const k of keys) this.inFlightBy.set(k, (this.inFlightBy.get(k) ?? 1) - 1);
    }
  }

  private async answer(req: RecordedRequest, url: URL): Promise<CannedResponse> {
    const fault = this.take(this.faults, url.pathname);
    if (fault) return fault.response;
    if (this.requireHeader) {
      const got = req.headers[this.requireHeader.name.toLowerCase()];
      if (!got || (this.requireHeader.value !== undefined && got !== this.requireHeader.value)) return { status: 401, body: { error: 'unauthorized' } };
    }
    let json: unknown;
    if (req.body) {
      try {
        json = JSON.parse(req.body);
      } catch {
        return { status: 400, body: { error: 'malformed JSON body' } };
      }
    }
    for (const r of this.routes) {
      const m = r.method === req.method ? r.pattern.exec(url.pathname) : null;
      if (m) return r.handler({ ...req, json, params: Object.fromEntries(r.keys.map((k, i) => [k, decodeURIComponent(m[i + 1])])) });
    }
    const [, name, id] = url.pathname.split('/');
    const c = name ? this.collections.get(name) : undefined;
    if (!c) return { status: 404, body: { error: `no collection ${name}` } };
    if (!id) {
      if (req.method === 'GET') return this.list(c, url);
      if (req.method === 'POST') return { status: 201, body: c.upsert({ ...(json as object), id: undefined } as Record<string, unknown>) };
      return { status: 405, body: { error: 'method not allowed' } };
    }
    const record = c.get(id);
    if (!record) return { status: 404, body: { error: `no record ${id}` } };
    if (req.method === 'GET') return { status: 200, body: record };
    if (req.method === 'PUT' || req.method === 'PATCH') return { status: 200, body: c.update(id, json as Record<string, unknown>) };
    if (req.method === 'DELETE') {
      c.remove(id);
      return { status: 204 };
    }
    return { status: 405, body: { error: 'method not allowed' } };
  }

  private list(c: Collection, url: URL): CannedResponse {
    const q = url.searchParams;
    let rows = c.all();
    const after = q.get('updated_since') ?? q.get('updated_at_gt');
    if (after) {
      const t = parseTime(after);
      if (Number.isNaN(t)) return { status: 400, body: { error: `bad time ${after}` } };
      // Rows are sorted by updated_at: binary search keeps big listings fast (benchmarks).
      const iso = new Date(t).toISOString();
      let lo = 0;
      let hi = rows.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (rows[mid].updated_at <= iso) lo = mid + 1;
        else hi = mid;
      }
      rows = rows.slice(lo);
    }
    const gte = q.get('updated_at_gte');
    if (gte) rows = rows.filter((r) => Date.parse(r.updated_at) >= parseTime(gte));
    const created = q.get('created_since');
    if (created) rows = rows.filter((r) => Date.parse(r.created_at) > parseTime(created));
    for (const [k, v] of q) if (!RESERVED.has(k)) rows = rows.filter((r) => String(r[k]) === v);

    if (c.style === 'offset') {
      const offset = Number(q.get('offset') ?? 0);
      const limit = Number(q.get('limit') ?? c.defaultPageSize);
      return { status: 200, body: rows.slice(offset, offset + limit) };
    }
    if (c.style === 'cursor') {
      const start = Number(q.get('cursor') ? Buffer.from(q.get('cursor')!, 'base64url').toString() : 0);
      const limit = Number(q.get('limit') ?? c.defaultPageSize);
      const page = rows.slice(start, start + limit);
      const next = start + limit < rows.length ? Buffer.from(String(start + limit)).toString('base64url') : null;
      return { status: 200, body: { data: page, next_cursor: next } };
    }
    const page = Number(q.get('page') ?? 1);
    const size = Number(q.get('per_page') ?? c.defaultPageSize);
    const slice = rows.slice((page - 1) * size, page * size);
    const hasNext = page * size < rows.length;
    const nextUrl = () => {
      const n = new URL(url);
      n.searchParams.set('page', String(page + 1));
      n.searchParams.set('per_page', String(size));
      return n.toString();
    };
    if (c.style === 'link') return { status: 200, headers: hasNext ? { link: `<${nextUrl()}>; rel="next"` } : {}, body: slice };
    if (c.style === 'hal') return { status: 200, body: { _embedded: { items: slice }, _links: hasNext ? { next: { href: nextUrl() } } : {} } };
    return { status: 200, body: slice };
  }
}
