import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import { EmulatedProvider, type ChangeAction, type ProviderRecord, type StartOptions } from './provider-server.js';

/**
 * The bundled sandbox provider behind connectors/sandbox.json: `contacts` and `tickets`, seeded
 * with a few records created long ago (before any instance), page pagination, and an `X-Api-Key`
 * header (any non-empty value, but required — 401 without it).
 *
 * Webhook subscriptions: POST /webhooks `{"url", "secret"?}` → 201 `{id, url}`, GET /webhooks,
 * DELETE /webhooks/:id. With `pushWebhooks` on, every change is POSTed to each subscriber as
 * `{"events": [{collection, action, record, at}]}` with an `X-Sandbox-Delivery` id, and signed
 * `X-Sandbox-Signature: sha256=<hex HMAC-SHA256 of the body>` when the subscriber gave a secret.
 * Pushing is off by default so that tests of polling are not disturbed.
 */
export interface Subscription {
  id: string;
  /** Mutable: tests point a subscription made with a placeholder public URL at the real port. */
  url: string;
  secret?: string;
}

export const SANDBOX_COLLECTIONS = ['contacts', 'tickets'] as const;
/** When the seeded records were created and last changed. */
export const SANDBOX_SEEDED_AT = Date.parse('2020-01-01T00:00:00.000Z');
const PUSH_TIMEOUT_MS = 10_000;

export class SandboxProvider {
  readonly subscriptions = new Map<string, Subscription>();
  /** Push a webhook for every change (off by default so polling tests are not disturbed). */
  pushWebhooks = false;
  /** Pushes not yet answered; `flush()` waits for them. */
  readonly pushes: Array<Promise<void>> = [];
  private readonly outgoing = new Set<http.ClientRequest>();

  private constructor(readonly provider: EmulatedProvider) {}

  /** Starts on 127.0.0.1 and an OS-chosen port unless told otherwise; `seed: false` starts empty. */
  static async start(opts: Omit<StartOptions, 'requireAuth'> & { seed?: boolean } = {}): Promise<SandboxProvider> {
    const provider = await EmulatedProvider.start({ ...opts, requireAuth: { type: 'header', name: 'X-Api-Key' } });
    const sandbox = new SandboxProvider(provider);
    for (const name of SANDBOX_COLLECTIONS) {
      const c = provider.collection(name);
      if (opts.seed !== false) seed(name, c);
      c.onChange = (action, record) => sandbox.push(name, action, record);
    }
    sandbox.addWebhookRoutes();
    return sandbox;
  }

  get url(): string {
    return this.provider.url;
  }

  /** Waits for every webhook push made so far (each ends answered, failed or timed out). */
  async flush(): Promise<void> {
    while (this.pushes.length > 0) await Promise.allSettled(this.pushes.splice(0));
  }

  /** Stops the provider and abandons pushes still waiting for an answer. */
  async close(): Promise<void> {
    for (const req of this.outgoing) req.destroy();
    await this.flush();
    await this.provider.close();
  }

  private addWebhookRoutes(): void {
    this.provider.route('POST', '/webhooks', ({ json }) => {
      const body = (typeof json === 'object' && json !== null ? json : {}) as { url?: unknown; secret?: unknown };
      if (typeof body.url !== 'string' || !isHttpUrl(body.url)) return { status: 400, body: { error: 'url is required and must be an http(s) URL' } };
      if (body.secret !== undefined && typeof body.secret !== 'string') return { status: 400, body: { error: 'secret must be a string' } };
      const sub: Subscription = { id: randomUUID(), url: body.url, secret: body.secret || undefined };
      this.subscriptions.set(sub.id, sub);
      return { status: 201, body: { id: sub.id, url: sub.url } };
    });
    this.provider.route('GET', '/webhooks', () => ({ status: 200, body: [...this.subscriptions.values()].map(({ id, url }) => ({ id, url })) }));
    this.provider.route('DELETE', '/webhooks/:id', ({ params }) =>
      this.subscriptions.delete(params.id) ? { status: 204 } : { status: 404, body: { error: `no webhook ${params.id}` } },
    );
  }

  private push(collection: string, action: ChangeAction, record: ProviderRecord): void {
    if (!this.pushWebhooks) return;
    // A deleted record keeps its last updated_at; the deletion happened now.
    const at = action === 'deleted' ? new Date(this.provider.now()).toISOString() : record.updated_at;
    const body = JSON.stringify({ events: [{ collection, action, record, at }] });
    for (const sub of this.subscriptions.values()) {
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-sandbox-delivery': randomUUID() };
      if (sub.secret) headers['x-sandbox-signature'] = signSandboxBody(sub.secret, body);
      this.pushes.push(this.post(sub.url, body, headers));
    }
  }

  /** One push; never rejects (a provider does not care whether its webhook landed). */
  private post(url: string, body: string, headers: Record<string, string>): Promise<void> {
    return new Promise((resolve) => {
      const req = http.request(url, { method: 'POST', timeout: PUSH_TIMEOUT_MS, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', done);
        res.on('error', done);
      });
      this.outgoing.add(req);
      function done() {
        resolve();
      }
      req.on('timeout', () => req.destroy());
      req.on('error', done);
      req.on('close', () => {
        this.outgoing.delete(req);
        done();
      });
      req.end(body);
    });
  }
}

/** The sandbox's signature header value: `sha256=<hex HMAC-SHA256 of the raw body>`. */
export function signSandboxBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function seed(name: (typeof SANDBOX_COLLECTIONS)[number], c: ReturnType<EmulatedProvider['collection']>): void {
  if (name === 'contacts') {
    const people = ['Ada Lovelace', 'Grace Hopper', 'Alan Turing'];
    c.seed(people.length, (i) => ({ name: people[i], email: `person${i + 1}@example.com` }), SANDBOX_SEEDED_AT);
  } else {
    const subjects = ['Printer on fire', 'Cannot log in'];
    c.seed(subjects.length, (i) => ({ subject: subjects[i], status: 'open' }), SANDBOX_SEEDED_AT);
  }
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
