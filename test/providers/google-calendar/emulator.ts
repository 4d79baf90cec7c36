import { randomUUID } from 'node:crypto';
import got from 'got';
import { ProviderEmulator } from '../emulator-base.js';
import { EmulatedProvider, type CannedResponse, type RecordedRequest, type RouteRequest } from '../../../sandbox/provider-server.js';
import { DiscoveryValidator } from './discovery-validator.js';

/**
 * An emulated Google Calendar API v3 (events of calendars, watch channels) as Google documents it.
 * "Events: list" is https://developers.google.com/calendar/api/v3/reference/events/list; its
 * parameter descriptions are the discovery document's (vendored in discovery-subset.json), quoted
 * from there. The rules:
 * - every request under /calendar/v3/ is first checked against the discovery document
 *   (discovery-validator.ts): method, path, parameters (type, enum, format, minimum), body fields.
 *   An invalid one is answered 400 and kept in `invalidRequests`;
 * - requests carry `Authorization: Bearer <token>` that `accepts` (the OAuth server's tokens);
 *   else 401;
 * - GET …/calendars/{calendarId}/events lists events in a stable order, pages of `maxResults`.
 *   Each page but the last has `nextPageToken`, the last `nextSyncToken` (see the rules below);
 * - POST …/calendars/{calendarId}/events/watch opens a notification channel; POST
 *   /calendar/v3/channels/stop closes one; changes made through createEvent/updateEvent/deleteEvent
 *   are notified to the live channels of the calendar (see notify).
 */
const DISCOVERY = DiscoveryValidator.load();
const BASE = '/calendar/v3';

export interface CalendarEvent {
  kind: 'calendar#event';
  id: string;
  etag: string;
  status: 'confirmed' | 'cancelled';
  summary?: string;
  created: string;
  updated: string;
  start?: { dateTime: string };
  end?: { dateTime: string };
}

export interface Channel {
  id: string;
  resourceId: string;
  address: string;
  token?: string;
  expiration: number;
  calendarId: string;
  stopped: boolean;
  messages: number;
}

/** Without `expiration` in the watch request, a channel lives this long (an emulator choice: no Google sentence read for Calendar's default). */
export const DEFAULT_CHANNEL_LIFE_MS = 7 * 86_400_000;

const googleError = (code: number, reason: string, message: string): CannedResponse => ({
  status: code,
  body: { error: { errors: [{ domain: 'global', reason, message }], code, message } },
});

/** Tokens are opaque to clients: here base64url JSON. */
const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const decode = <T>(token: string): T | undefined => {
  try {
    return JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as T;
  } catch {
    return undefined;
  }
};

type PageState = { since: number | null; upto: number; offset: number; showDeleted: boolean };

export class GoogleCalendarProvider extends ProviderEmulator {
  readonly invalidRequests: Array<{ request: RecordedRequest; errors: string[] }> = [];
  readonly channels = new Map<string, Channel>();
  readonly notifications: Array<{ channelId: string; state: string; status: number }> = [];
  private readonly calendars = new Map<string, Map<string, CalendarEvent & { seq: number }>>();
  private seq = 0;
  /** Sync tokens carry the epoch they were issued in; those of earlier epochs have expired (expireSyncTokens). */
  private epoch = 0;
  private nextId = 1;
  /** Tests point a channel address made with a placeholder public URL at the gateway's real port. */
  rewriteAddress: (address: string) => string = (a) => a;

  private constructor(provider: EmulatedProvider) {
    super(provider);
  }

  static async start(o: { calendars: string[]; accepts: (token: string) => boolean }): Promise<GoogleCalendarProvider> {
    const provider = await EmulatedProvider.start();
    const google = new GoogleCalendarProvider(provider);
    for (const c of o.calendars) google.calendars.set(c, new Map());
    provider.inspect = (req) => {
      if (!req.path.startsWith(`${BASE}/`)) return undefined;
      const verdict = DISCOVERY.validate(req);
      if (verdict.errors.length) {
        google.invalidRequests.push({ request: req, errors: verdict.errors });
        return googleError(400, 'invalid', verdict.errors.join('; '));
      }
      const bearer = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      return o.accepts(bearer) ? undefined : googleError(401, 'authError', 'Invalid Credentials');
    };
    provider.route('GET', `${BASE}/calendars/:calendarId/events`, (req) => google.list(req));
    provider.route('POST', `${BASE}/calendars/:calendarId/events/watch`, (req) => google.watch(req));
    provider.route('POST', `${BASE}/channels/stop`, (req) => google.stop(req));
    return google;
  }

  private iso(ms = this.provider.now()): string {
    return new Date(ms).toISOString();
  }

  private calendar(id: string): Map<string, CalendarEvent & { seq: number }> {
    const c = this.calendars.get(id);
    if (!c) throw new Error(`no calendar ${id}`);
    return c;
  }

  async createEvent(calendarId: string, summary: string): Promise<CalendarEvent> {
    const now = this.iso();
    const event = {
      kind: 'calendar#event' as const,
      id: `evt${this.nextId++}`,
      etag: '',
      status: 'confirmed' as const,
      summary,
      created: now,
      updated: now,
      seq: ++this.seq,
    };
    event.etag = `"${event.seq}"`;
    this.calendar(calendarId).set(event.id, event);
    await this.notify(calendarId);
    return this.view(event);
  }

  async updateEvent(calendarId: string, id: string, summary: string): Promise<CalendarEvent> {
    const event = this.calendar(calendarId).get(id)!;
    Object.assign(event, { summary, updated: this.iso(), seq: ++this.seq, etag: `"${this.seq}"` });
    await this.notify(calendarId);
    return this.view(event);
  }

  /** Deleting an event leaves it as `status: "cancelled"` (showDeleted: "Whether to include deleted events (with status equals \"cancelled\") in the result."). */
  async deleteEvent(calendarId: string, id: string): Promise<void> {
    const event = this.calendar(calendarId).get(id)!;
    Object.assign(event, { status: 'cancelled', updated: this.iso(), seq: ++this.seq, etag: `"${this.seq}"` });
    await this.notify(calendarId);
  }

  /** Every sync token issued so far expires (the next incremental list answers 410). */
  expireSyncTokens(): void {
    this.epoch++;
  }

  private view(e: CalendarEvent & { seq: number }): CalendarEvent {
    const { seq: _seq, ...event } = e;
    return event;
  }

  private list(req: RouteRequest): CannedResponse {
    const events = this.calendars.get(req.params.calendarId);
    if (!events) return googleError(404, 'notFound', 'Not Found');
    const q = req.query;
    let state: PageState;
    if (q.pageToken !== undefined) {
      const s = decode<PageState>(q.pageToken);
      if (!s) return googleError(400, 'invalid', 'Invalid page token value.');
      state = s;
    } else if (q.syncToken !== undefined) {
      // syncToken: "There are several query parameters that cannot be specified together with
      // nextSyncToken to ensure consistency of the client state. These are: iCalUID, orderBy,
      // privateExtendedProperty, q, sharedExtendedProperty, timeMin, timeMax, updatedMin"
      // (events.list, discovery document revision 20240111).
      const refused = ['iCalUID', 'orderBy', 'privateExtendedProperty', 'q', 'sharedExtendedProperty', 'timeMin', 'timeMax', 'updatedMin'].filter(
        (p) => q[p] !== undefined,
      );
      if (refused.length) return googleError(400, 'invalid', `${refused.join(', ')} may not be combined with syncToken`);
      // syncToken: "All events deleted since the previous list request will always be in the result
      // set and it is not allowed to set showDeleted to False."
      if (q.showDeleted === 'false') return googleError(400, 'invalid', 'showDeleted may not be false with syncToken');
      const token = decode<{ seq: number; epoch: number }>(q.syncToken);
      if (typeof token?.seq !== 'number') return googleError(400, 'invalid', 'Invalid sync token value.');
      const since = token.seq;
      // syncToken: "If the syncToken expires, the server will respond with a 410 GONE response code
      // and the client should clear its storage and perform a full synchronization without any
      // syncToken." (The reason and message below are this emulator's.)
      if (token.epoch !== this.epoch) return googleError(410, 'fullSyncRequired', 'Sync token is no longer valid, a full sync is required.');
      state = { since, upto: this.seq, offset: 0, showDeleted: true };
    } else {
      state = { since: null, upto: this.seq, offset: 0, showDeleted: q.showDeleted === 'true' };
    }
    // maxResults: "By default the value is 250 events. The page size can never be larger than 2500 events."
    const size = Math.min(Number(q.maxResults ?? 250), 2500);
    const all = [...events.values()]
      .filter((e) => e.seq <= state.upto && (state.since === null ? state.showDeleted || e.status !== 'cancelled' : e.seq > state.since))
      .sort((a, b) => a.seq - b.seq);
    const items = all.slice(state.offset, state.offset + size).map((e) => this.view(e));
    const more = state.offset + size < all.length;
    // nextPageToken / nextSyncToken as the discovery document's list schemas describe them (e.g.
    // CalendarList.nextPageToken: "Token used to access the next page of this result. Omitted if
    // no further results are available, in which case nextSyncToken is provided.").
    return {
      status: 200,
      body: {
        kind: 'calendar#events',
        summary: req.params.calendarId,
        updated: this.iso(),
        items,
        ...(more ? { nextPageToken: encode({ ...state, offset: state.offset + size }) } : { nextSyncToken: encode({ seq: state.upto, epoch: this.epoch }) }),
      },
    };
  }

  private watch(req: RouteRequest): CannedResponse {
    if (!this.calendars.has(req.params.calendarId)) return googleError(404, 'notFound', 'Not Found');
    const body = req.json as { id?: string; type?: string; address?: string; token?: string; expiration?: string };
    if (!body.id || !body.address) return googleError(400, 'required', 'id and address are required');
    // Channel.type: "Valid values are \"web_hook\" (or \"webhook\")."
    if (body.type !== 'web_hook' && body.type !== 'webhook') return googleError(400, 'invalid', 'type must be web_hook');
    if ([...this.channels.values()].some((c) => c.id === body.id)) return googleError(400, 'channelIdNotUnique', 'Channel id not unique');
    const expiration = body.expiration ? Number(body.expiration) : this.provider.now() + DEFAULT_CHANNEL_LIFE_MS;
    const channel: Channel = {
      id: body.id,
      resourceId: `res-${randomUUID()}`,
      address: body.address,
      token: body.token,
      expiration,
      calendarId: req.params.calendarId,
      stopped: false,
      messages: 0,
    };
    this.channels.set(channel.id, channel);
    // A first message with state "sync" when the channel opens, just after this answer (as
    // third-party guides describe Google's push; the push guide's own sentence was not read here).
    setImmediate(() => void this.send(channel, 'sync'));
    return {
      status: 200,
      body: {
        kind: 'api#channel',
        id: channel.id,
        resourceId: channel.resourceId,
        resourceUri: `https://www.googleapis.com/calendar/v3/calendars/${req.params.calendarId}/events`,
        token: channel.token,
        expiration: String(expiration),
      },
    };
  }

  private stop(req: RouteRequest): CannedResponse {
    const body = req.json as { id?: string; resourceId?: string };
    const channel = body.id ? this.channels.get(body.id) : undefined;
    if (!channel || channel.resourceId !== body.resourceId || channel.stopped)
      return googleError(404, 'notFound', `Channel '${body.id}' not found for project`);
    channel.stopped = true;
    return { status: 204 };
  }

  /** The live channels of a calendar (not stopped, not expired). */
  liveChannels(calendarId?: string): Channel[] {
    const now = this.provider.now();
    return [...this.channels.values()].filter((c) => !c.stopped && c.expiration > now && (calendarId === undefined || c.calendarId === calendarId));
  }

  /**
   * "Whenever a channel's resource changes, the Google Calendar API sends a notification message as
   * a POST request to that URL." (https://developers.google.com/calendar/api/guides/push). The
   * message is thin — headers, no body: the channel's id and token (Channel.token: "An arbitrary
   * string delivered to the target address with each notification delivered over this channel."),
   * the resource id and URI, the state (`sync` when the channel opens, `exists` on a change) and a
   * message number counted per channel (the X-Goog-* header names as the push guide's examples
   * and third-party guides show them; the guide's sentences on them were not read in this session).
   */
  private async notify(calendarId: string): Promise<void> {
    for (const channel of this.liveChannels(calendarId)) await this.send(channel, 'exists');
  }

  private async send(channel: Channel, state: 'sync' | 'exists'): Promise<void> {
    channel.messages += 1;
    const res = await got.post(this.rewriteAddress(channel.address), {
      headers: {
        'X-Goog-Channel-ID': channel.id,
        ...(channel.token !== undefined ? { 'X-Goog-Channel-Token': channel.token } : {}),
        'X-Goog-Channel-Expiration': new Date(channel.expiration).toUTCString(),
        'X-Goog-Resource-ID': channel.resourceId,
        'X-Goog-Resource-URI': `https://www.googleapis.com/calendar/v3/calendars/${channel.calendarId}/events`,
        'X-Goog-Resource-State': state,
        'X-Goog-Message-Number': String(channel.messages),
      },
      throwHttpErrors: false,
      retry: { limit: 0 },
    });
    this.notifications.push({ channelId: channel.id, state, status: res.statusCode });
  }
}
