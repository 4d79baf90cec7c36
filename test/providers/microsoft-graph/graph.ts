import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { projectRoot } from '../../../src/config/index.js';
import { EmulatedProvider, type CannedResponse, type RecordedRequest, type RouteRequest } from '../../../sandbox/provider-server.js';
import { ProviderEmulator } from '../emulator-base.js';
import { openApiFromPackage, validateRequest } from '../openapi-validator.js';
import { UsersDelta } from './users-delta.js';

/**
 * Microsoft Graph v1.0 as the users and calendar connector meets it: `GET /users/delta` (delta
 * query, users-delta.ts), `GET /users` and `GET /me/events` paged by `@odata.nextLink`, a user or event read by its id (`GET /users/{id}`,
 * `GET /me/events/{id}`), and subscriptions (`POST/GET/PATCH/DELETE /subscriptions`) that validate
 * their notification URLs, expire, and push thin change notifications and lifecycle notifications.
 * Requests to /subscriptions and /users are checked against Microsoft's published description
 * (openapi-subset.json, openapi-users.json, openapi-users-delta.json — the description names the users
 * delta query `/users/microsoft.graph.delta()`, its OData form of `/users/delta` —, openapi-events.json,
 * where the signed-in user's `/me/events` is `/users/{user-id}/events`); an invalid one is answered
 * 400 and kept in `invalidRequests`.
 */
const SUBSET = join(projectRoot, 'test/providers/microsoft-graph/openapi-subset.json');
const USERS_SUBSET = join(projectRoot, 'test/providers/microsoft-graph/openapi-users.json');
const USERS_DELTA_SUBSET = join(projectRoot, 'test/providers/microsoft-graph/openapi-users-delta.json');
const EVENTS_SUBSET = join(projectRoot, 'test/providers/microsoft-graph/openapi-events.json');
/** The users delta query as Graph's documentation writes it, and as its description does (an OData function). */
export const USERS_DELTA_PATH = { documented: '/v1.0/users/delta', described: '/v1.0/users/microsoft.graph.delta()' };
const MINUTE = 60_000;
export const TENANT_ID = '84bd8158-6d4d-4958-8b9f-9d6445542f95';
export const ME = '7a3b5c1e-0000-4000-8000-00000000a11c';

/**
 * https://learn.microsoft.com/graph/api/resources/subscription, "Maximum length of subscription per
 * resource type": "**user**, **group**, other directory resources | 41760 minutes (under 29 days)";
 * "Outlook **message**, **event**, **contact** | 4230 minutes (under 3 days)".
 */
export const MAX_MINUTES: Record<string, number> = { users: 41_760, 'me/events': 4_230 };

/**
 * Same page, "changeType" property: "The supported values are: `created`, `updated`, `deleted`.
 * Multiple values can be combined using a comma-separated list." and "[User] and [group] change
 * notifications support `updated` and `deleted` changeType."
 */
const CHANGE_TYPES: Record<string, string[]> = { users: ['updated', 'deleted'], 'me/events': ['created', 'updated', 'deleted'] };

export interface Subscription {
  id: string;
  resource: string;
  changeType: string;
  clientState: string;
  notificationUrl: string;
  lifecycleNotificationUrl?: string;
  expiresAt: number;
}
export type Delivery = { url: string; status: number; contentType: string; ms: number; body: unknown };

const errors = (status: number, code: string, message: string): CannedResponse => ({ status, body: { error: { code, message } } });

export class GraphProvider extends ProviderEmulator {
  readonly users = new Map<string, Record<string, unknown>>();
  readonly events = new Map<string, Record<string, unknown>>();
  readonly subscriptions = new Map<string, Subscription>();
  readonly invalidRequests: Array<{ request: RecordedRequest; errors: string[] }> = [];
  /** Every notification (change or lifecycle) and validation request sent, with the answer. */
  readonly deliveries: Delivery[] = [];
  /** Records per listing page (Graph chooses its own page sizes). */
  pageSize = 2;
  /** Delta queries on users: state tokens, `@removed`, expiry (users-delta.ts). */
  readonly usersDelta = new UsersDelta(
    () => this.url,
    () => this.users,
    () => this.pageSize,
  );
  /** Where a notification URL really is (test gateways advertise a placeholder origin). */
  reachable: (url: string) => string = (url) => url;

  private constructor(provider: EmulatedProvider) {
    super(provider);
  }

  static async start(o: { accepts(token: string): boolean }): Promise<GraphProvider> {
    const provider = await EmulatedProvider.start();
    const graph = new GraphProvider(provider);
    const subscriptions = await openApiFromPackage(SUBSET);
    const users = await openApiFromPackage(USERS_SUBSET);
    const usersDelta = await openApiFromPackage(USERS_DELTA_SUBSET);
    const events = await openApiFromPackage(EVENTS_SUBSET);
    provider.inspect = (req) => {
      // A next page is the `@odata.nextLink` Graph gave, followed as is, and a later delta round the
      // `@odata.deltaLink`: their `$skiptoken` and `$deltatoken` (OData system query options) are not
      // declared in the description, and those URLs are not pollgate's to build.
      const followed = req.query.$skiptoken !== undefined || req.query.$deltatoken !== undefined;
      const delta = req.path === USERS_DELTA_PATH.documented;
      const userCall = req.path.startsWith('/v1.0/users') && !followed;
      const eventCall = req.path.startsWith('/v1.0/me/events') && !followed;
      const description = req.path.startsWith('/v1.0/subscriptions') ? subscriptions : userCall ? (delta ? usersDelta : users) : eventCall ? events : undefined;
      if (description) {
        // The description's forms of the paths Graph documents (and pollgate sends).
        const path = delta ? USERS_DELTA_PATH.described : eventCall ? req.path.replace(/^\/v1\.0\/me\//, '/v1.0/users/me/') : req.path;
        const verdict = validateRequest(description, { ...req, path }, '/v1.0');
        if (verdict.errors.length) {
          graph.invalidRequests.push({ request: req, errors: verdict.errors });
          return errors(400, 'BadRequest', verdict.errors.join('; '));
        }
      }
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      return o.accepts(token) ? undefined : errors(401, 'InvalidAuthenticationToken', 'Access token is empty.');
    };
    graph.routes();
    return graph;
  }

  private clock(): number {
    return this.provider.now();
  }

  private routes(): void {
    const p = this.provider;
    p.route('GET', '/v1.0/users', (req) => this.page(req, '/v1.0/users', [...this.users.values()]));
    p.route('GET', '/v1.0/me/events', (req) => this.page(req, '/v1.0/me/events', [...this.events.values()]));
    p.route('GET', '/v1.0/users/:id', (req) => this.one(this.users, req.params.id));
    p.route('GET', '/v1.0/me/events/:id', (req) => this.one(this.events, req.params.id));
    // (Registered after /users/:id: the later route is matched first.)
    // https://learn.microsoft.com/graph/api/user-delta, "HTTP request": "To begin tracking changes,
    // you make a request including the delta function on the users resource. GET /users/delta"
    p.route('GET', '/v1.0/users/delta', (req) => this.usersDelta.handle(req));
    p.route('POST', '/v1.0/subscriptions', (req) => this.subscribe(req));
    p.route('GET', '/v1.0/subscriptions/:id', (req) => {
      const sub = this.live(req.params.id);
      return sub ? { status: 200, body: this.shape(sub) } : errors(404, 'ResourceNotFound', 'The object was not found.');
    });
    p.route('PATCH', '/v1.0/subscriptions/:id', (req) => this.renew(req));
    p.route('DELETE', '/v1.0/subscriptions/:id', (req) => {
      const existed = this.subscriptions.delete(req.params.id);
      return existed ? { status: 204 } : errors(404, 'ResourceNotFound', 'The object was not found.');
    });
  }

  private page(req: RouteRequest, path: string, all: Array<Record<string, unknown>>): CannedResponse {
    const skip = Number(req.query.$skiptoken ?? 0);
    const value = all.slice(skip, skip + this.pageSize);
    const next = skip + this.pageSize < all.length ? `${this.url}${path}?$skiptoken=${skip + this.pageSize}` : undefined;
    return { status: 200, body: { '@odata.context': `${this.url}/v1.0/$metadata`, value, ...(next ? { '@odata.nextLink': next } : {}) } };
  }

  private one(map: Map<string, Record<string, unknown>>, id: string): CannedResponse {
    const found = map.get(id);
    return found ? { status: 200, body: found } : errors(404, 'Request_ResourceNotFound', `Resource '${id}' does not exist.`);
  }

  /**
   * A subscription expires at its expirationDateTime; https://learn.microsoft.com/graph/change-notifications-delivery-webhooks,
   * "Renew a subscription": "If you don't renew a subscription in time, Microsoft Graph deletes the subscription".
   */
  private live(id: string): Subscription | undefined {
    const sub = this.subscriptions.get(id);
    if (sub && sub.expiresAt <= this.clock()) this.subscriptions.delete(id);
    return sub && sub.expiresAt > this.clock() ? sub : undefined;
  }

  private shape(sub: Subscription) {
    return {
      '@odata.context': `${this.url}/v1.0/$metadata#subscriptions/$entity`,
      id: sub.id,
      resource: sub.resource,
      applicationId: '24d3b144-21ae-4080-943f-7067b395b913',
      changeType: sub.changeType,
      clientState: sub.clientState,
      notificationUrl: sub.notificationUrl,
      lifecycleNotificationUrl: sub.lifecycleNotificationUrl ?? null,
      expirationDateTime: new Date(sub.expiresAt).toISOString(),
      creatorId: ME,
    };
  }

  /** The expiry asked for, if within the resource's maximum (null: refused, with the answer). */
  private expiryOf(resource: string, value: unknown): number | CannedResponse {
    const at = typeof value === 'string' ? Date.parse(value) : Number.NaN;
    if (!Number.isFinite(at) || at <= this.clock()) return errors(400, 'ExtensionError', 'Subscription expiration must be in the future.');
    // Subscription page, note under the table: "any requests to create or renew a subscription beyond the maximum value will fail."
    if (at > this.clock() + MAX_MINUTES[resource] * MINUTE)
      return errors(400, 'ExtensionError', `Subscription expiration can only be ${MAX_MINUTES[resource]} minutes in the future.`);
    return at;
  }

  private async subscribe(req: RouteRequest): Promise<CannedResponse> {
    const body = (req.json ?? {}) as Record<string, string>;
    const resource = String(body.resource ?? '').replace(/^\//, '');
    if (!(resource in MAX_MINUTES)) return errors(400, 'InvalidRequest', `Resource '${resource}' is not supported by this emulator.`);
    const types = String(body.changeType ?? '').split(',');
    if (!types.every((t) => CHANGE_TYPES[resource].includes(t)))
      return errors(400, 'InvalidRequest', `changeType '${body.changeType}' is not supported for resource '${resource}'.`);
    const expiresAt = this.expiryOf(resource, body.expirationDateTime);
    if (typeof expiresAt !== 'number') return expiresAt;
    // https://learn.microsoft.com/graph/change-notifications-delivery-webhooks, "Subscription request":
    // "The **clientState** property is required." Subscription page: "The maximum length is 128 characters."
    if (!body.clientState || body.clientState.length > 128) return errors(400, 'InvalidRequest', 'clientState is required, at most 128 characters.');
    // "notificationUrl validation": "If you're subscribing to lifecycle notifications as well, Microsoft
    // Graph will also validate the **lifecycleNotificationUrl**." and "If the endpoint validation fails,
    // Microsoft Graph doesn't create the subscription."
    for (const url of [body.notificationUrl, body.lifecycleNotificationUrl].filter(Boolean)) {
      const failed = await this.validate(url);
      if (failed) return errors(400, 'ValidationError', `Subscription validation request failed. ${failed}`);
    }
    const sub: Subscription = {
      id: randomUUID(),
      resource,
      changeType: body.changeType,
      clientState: body.clientState,
      notificationUrl: body.notificationUrl,
      lifecycleNotificationUrl: body.lifecycleNotificationUrl,
      expiresAt,
    };
    this.subscriptions.set(sub.id, sub);
    // "If successful, Microsoft Graph returns a `201 Created` code and a [subscription] object in the body."
    return { status: 201, body: this.shape(sub) };
  }

  /**
   * https://learn.microsoft.com/graph/change-notifications-delivery-webhooks, "notificationUrl validation":
   * "Microsoft Graph encodes a validation token and includes it in a POST request to the notification
   * URL" with "Content-Type: text/plain; charset=utf-8"; "The client must respond with the following
   * characteristics within 10 seconds of step 1: A status code of `HTTP 200 OK`. A content type of
   * `text/plain`. A body that includes the _URL decoded_ plain text validation token."
   */
  private async validate(url: string): Promise<string | undefined> {
    const token = `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()}`;
    const target = new URL(this.reachable(url));
    target.searchParams.set('validationToken', token);
    const started = Date.now();
    try {
      const res = await fetch(target, { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8' }, signal: AbortSignal.timeout(10_000) });
      const text = await res.text();
      const contentType = res.headers.get('content-type') ?? '';
      this.deliveries.push({ url, status: res.status, contentType, ms: Date.now() - started, body: text });
      if (res.status !== 200) return `The endpoint answered ${res.status}.`;
      if (!contentType.startsWith('text/plain')) return `The endpoint answered ${contentType}, not text/plain.`;
      return text === token ? undefined : 'The endpoint did not echo the validation token.';
    } catch (err) {
      return `The endpoint did not answer within 10 seconds: ${(err as Error).message}`;
    }
  }

  private renew(req: RouteRequest): CannedResponse {
    const sub = this.live(req.params.id);
    if (!sub) return errors(404, 'ResourceNotFound', 'The object was not found.');
    const expiresAt = this.expiryOf(sub.resource, (req.json as Record<string, unknown> | undefined)?.expirationDateTime);
    if (typeof expiresAt !== 'number') return expiresAt;
    sub.expiresAt = expiresAt;
    // "If the subscription renewal request is successful, Microsoft Graph returns a `200 OK` response
    // code and a [subscription] object in the response body."
    return { status: 200, body: this.shape(sub) };
  }

  // -------------------------------------------------------------------------------------------
  // Changes, and the notifications they cause

  async createUser(fields: Record<string, unknown>): Promise<Record<string, unknown>> {
    const user = { id: randomUUID(), businessPhones: [], ...fields };
    this.users.set(user.id, user);
    // Users support only updated and deleted notifications: a new user is announced as "updated".
    await this.notify('users', 'updated', user.id);
    return user;
  }

  async updateUser(id: string, fields: Record<string, unknown>): Promise<void> {
    this.users.set(id, { ...this.users.get(id)!, ...fields });
    await this.notify('users', 'updated', id);
  }

  async deleteUser(id: string): Promise<void> {
    this.users.delete(id);
    await this.notify('users', 'deleted', id);
  }

  async createEvent(fields: Record<string, unknown>): Promise<Record<string, unknown>> {
    const at = new Date(this.clock()).toISOString().replace('Z', '0000Z');
    const event = { id: `AAMkAG${randomUUID().replace(/-/g, '')}=`, createdDateTime: at, lastModifiedDateTime: at, ...fields };
    this.events.set(event.id, event);
    await this.notify('me/events', 'created', event.id);
    return event;
  }

  async updateEvent(id: string, fields: Record<string, unknown>): Promise<void> {
    const at = new Date(this.clock()).toISOString().replace('Z', '0000Z');
    this.events.set(id, { ...this.events.get(id)!, ...fields, lastModifiedDateTime: at });
    await this.notify('me/events', 'updated', id);
  }

  /**
   * A change notification without resource data, as in https://learn.microsoft.com/graph/change-notifications-delivery-webhooks,
   * "Change notification example" (subscriptionId, subscriptionExpirationDateTime, clientState,
   * changeType, resource, tenantId, resourceData with @odata.type, @odata.id and id), to each live
   * subscription of the resource whose changeType lists the change.
   */
  private async notify(resource: 'users' | 'me/events', changeType: string, id: string): Promise<void> {
    const path = resource === 'users' ? `Users/${id}` : `Users/${ME}/Events/${id}`;
    const type = resource === 'users' ? '#Microsoft.Graph.User' : '#Microsoft.Graph.Event';
    for (const sub of [...this.subscriptions.values()]) {
      if (sub.resource !== resource || !this.live(sub.id) || !sub.changeType.split(',').includes(changeType)) continue;
      await this.post(sub.notificationUrl, {
        value: [
          {
            subscriptionId: sub.id,
            subscriptionExpirationDateTime: new Date(sub.expiresAt).toISOString(),
            clientState: sub.clientState,
            changeType,
            resource: path,
            tenantId: TENANT_ID,
            resourceData: { '@odata.type': type, '@odata.id': path, id },
          },
        ],
      });
    }
  }

  /**
   * A lifecycle notification, https://learn.microsoft.com/graph/change-notifications-lifecycle-events,
   * "Structure of a lifecycle notification": subscriptionId, subscriptionExpirationDateTime, tenantId,
   * clientState, lifecycleEvent. `subscriptionRemoved` first removes the subscription ("alert you when
   * Microsoft Graph has removed a subscription").
   */
  async lifecycle(id: string, lifecycleEvent: 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed'): Promise<Delivery> {
    const sub = this.subscriptions.get(id)!;
    if (lifecycleEvent === 'subscriptionRemoved') this.subscriptions.delete(id);
    return this.post(sub.lifecycleNotificationUrl ?? sub.notificationUrl, {
      value: [
        {
          subscriptionId: sub.id,
          subscriptionExpirationDateTime: new Date(sub.expiresAt).toISOString(),
          tenantId: TENANT_ID,
          clientState: sub.clientState,
          lifecycleEvent,
        },
      ],
    });
  }

  /**
   * "Processing the change notification": "If Microsoft Graph doesn't receive a 2xx class code within
   * 3 seconds, it tries to resend the change notification" — the answer and its time are recorded
   * for tests to hold to that.
   */
  async post(url: string, body: unknown): Promise<Delivery> {
    const started = Date.now();
    const res = await fetch(this.reachable(url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(3_000),
    });
    const delivery = { url, status: res.status, contentType: res.headers.get('content-type') ?? '', ms: Date.now() - started, body: await res.text() };
    this.deliveries.push(delivery);
    return delivery;
  }

  /** The live subscription of a resource. */
  subscriptionOf(resource: 'users' | 'me/events'): Subscription | undefined {
    return [...this.subscriptions.values()].find((s) => s.resource === resource && this.live(s.id));
  }
}
