import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import { EmulatedProvider, type ProviderRecord } from './provider-server.js';

/**
 * The bundled sandbox provider behind connectors/sandbox.json: `contacts` and `tickets`, seeded
 * with a few records created long ago, page pagination, an `X-Api-Key` header (any non-empty value),
 * and webhook subscriptions (POST/GET/DELETE /webhooks). With `pushWebhooks` on, every change is
 * POSTed to each subscriber as {"events": [{collection, action, record, at}]}, signed with
 * `X-Sandbox-Signature: sha256=<hex HMAC-SHA256 of the body>` when the subscriber gave a secret.
 */
export interface Subscription {
  id: string;
  url: string;
  secret?: string;
}

export class SandboxProvider {
  readonly subscriptions = new Map<string, Subscription>();
  /** Push a webhook for every change (off by default so polling tests are not disturbed). */
  pushWebhooks = false;
  readonly pushes: Array<Promise<void>> = [];

  private constructor(readonly provider: EmulatedProvider) {}

  static async start(opts: { port?: number; host?: string; seed?: boolean } = {}): Promise<SandboxProvider> {
    const provider = await EmulatedProvider.start(opts);
    const sandbox = new SandboxProvider(provider);
    provider.requireHeader = { name: 'x-api-key' };
    const longAgo = Date.parse('2020-01-01T00:00:00.000Z');
    for (const name of ['contacts', 'tickets'] as const) {
      const c = provider.collection(name);
      if (opts.seed !== false) {
        if (name === 'contacts') c.seed(3, (i) => ({ name: ['Ada Lovelace', 'Grace Hopper', 'Alan Turing'][i], email: `person${i + 1}@example.com` }), longAgo);
        else c.seed(2, (i) => ({ subject: ['Printer on fire', 'Cannot log in'][i], status: 'open' }), longAgo);
      }
      c.onChange = (action, record) => sandbox.push(name, action, record);
    }
    provider.route('POST', '/webhooks', ({ json }) => {
      const body = json as { url?: unknown; secret?: unknown } | undefined;
      if (!body || typeof body.url !== 'string') return { status: 400, body: { error: 'url is required' } };
      const sub: Subscription = { id: randomUUID(), url: body.url, secret: typeof body.secret === 'string' && body.secret ? body.secret : undefined };
      sandbox.subscriptions.set(sub.id, sub);
      return { status: 201, body: { id: sub.id, url: sub.url } };
    });
    provider.route('GET', '/webhooks', () => ({ status: 200, body: [...sandbox.subscriptions.values()].map(({ id, url }) => ({ id, url })) }));
    provider.route('DELETE', '/webhooks/:id', ({ params }) => (sandbox.subscriptions.delete(params.id) ? { status: 204 } : { status: 404, body: { error: 'no such webhook' } }));
    return sandbox;
  }

  get url(): string {
    return this.provider.url;
  }

  private push(collection: string, action: string, record: ProviderRecord): void {
    if (!this.pushWebhooks) return;
    const body = JSON.stringify({ events: [{ collection, action, record, at: record.updated_at }] });
    for (const sub of this.subscriptions.values()) {
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-sandbox-delivery': randomUUID() };
      if (sub.secret) headers['x-sandbox-signature'] = `sha256=${createHmac('sha256', sub.secret).update(body).digest('hex')}`;
      this.pushes.push(postJson(sub.url, body, headers));
    }
  }

  /** Waits for every webhook push made so far. */
  async flush(): Promise<void> {
    await Promise.allSettled(this.pushes.splice(0));
  }

  close(): Promise<void> {
    return this.provider.close();
  }
}

function postJson(url: string, body: string, headers: Record<string, string>): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', () => resolve());
    req.end(body);
  });
}
