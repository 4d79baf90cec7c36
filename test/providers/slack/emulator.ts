import { createHmac } from 'node:crypto';
import got from 'got';
import { EmulatedProvider, type CannedResponse, type RecordedRequest, type RouteRequest } from '../../../sandbox/provider-server.js';
import { RateWindow, unknownParams } from '../provider-api.js';
import { openApiFromPackage, validateRequest } from '../openapi-validator.js';

/**
 * Slack's Web API method conversations.history and its Events API deliveries, as Slack documents them.
 *
 * conversations.history (https://docs.slack.dev/reference/methods/conversations.history): "This
 * method returns a portion of message events from the specified conversation", newest first, with
 * `oldest`/`latest` (Unix timestamps with a fractional part, the messages' `ts`) exclusive unless
 * `inclusive`, cursor pagination ("setting the cursor parameter to a next_cursor attribute returned
 * by a previous request's response_metadata") and `has_more`. "For Marketplace and internal
 * customer-built applications, this method has Tier 3 rate limits" ("Tier 3: 50+ per minute"); a
 * rate-limited call answers HTTP 429 with Retry-After (https://api.slack.com/apis/rate-limits).
 * The `limit` argument: "Maximum of 999" (Slack's method reference, as reproduced in slack_kit's
 * priv/docs/methods/conversations.history.json). Errors are HTTP 200 with `{"ok": false, "error"}`
 * (`not_authed`, `invalid_auth`, `channel_not_found`, `invalid_arguments`).
 *
 * Every request is first validated against Slack's published Web API description (the vendored
 * subset in openapi-subset.json, scripts/openapi-subsets/slack.ts); an invalid one is answered
 * `invalid_arguments` and recorded in `invalidRequests`.
 */
export const SLACK_OPENAPI = new URL('./openapi-subset.json', import.meta.url).pathname;
export const SLACK_TIER3_PER_MINUTE = 50;
export const SLACK_HISTORY_MAX_LIMIT = 999;
const HISTORY_PARAMS = ['channel', 'cursor', 'inclusive', 'latest', 'limit', 'oldest', 'include_all_metadata'];

export interface SlackMessage {
  type: 'message';
  user: string;
  text: string;
  ts: string;
  subtype?: string;
  edited?: { user: string; ts: string };
}

export class SlackEmulator {
  /** Messages per channel id, oldest first. */
  readonly channels = new Map<string, SlackMessage[]>();
  readonly rate: RateWindow;
  readonly invalidRequests: Array<{ request: RecordedRequest; errors: string[] }> = [];
  private seq = 0;

  private constructor(
    readonly provider: EmulatedProvider,
    readonly botToken: string,
  ) {
    this.rate = new RateWindow(SLACK_TIER3_PER_MINUTE, 60_000, () => provider.now());
    provider.route('GET', '/api/conversations.history', (req) => this.history(req));
  }

  static async start(botToken: string): Promise<SlackEmulator> {
    const slack = new SlackEmulator(await EmulatedProvider.start(), botToken);
    const description = await openApiFromPackage(SLACK_OPENAPI);
    slack.provider.inspect = (req) => {
      const { errors } = validateRequest(description, req, '/api');
      if (!errors.length) return undefined;
      slack.invalidRequests.push({ request: req, errors });
      return { status: 200, body: { ok: false, error: 'invalid_arguments', response_metadata: { messages: errors.map((e) => `[ERROR] ${e}`) } } };
    };
    return slack;
  }

  /** What an instance puts in `base.url`. */
  get baseUrl(): string {
    return `${this.provider.url}/api`;
  }

  close(): Promise<void> {
    return this.provider.close();
  }

  /** A channel with no messages yet. */
  openChannel(channel: string): void {
    if (!this.channels.has(channel)) this.channels.set(channel, []);
  }

  /** A message posted now: `ts` is epoch seconds with six digits after the point, unique per channel. */
  post(channel: string, text: string, user = 'U0123ABCD'): SlackMessage {
    const seconds = Math.floor(this.provider.now() / 1000);
    const message: SlackMessage = { type: 'message', user, text, ts: `${seconds}.${String(++this.seq).padStart(6, '0')}` };
    if (!this.channels.has(channel)) this.channels.set(channel, []);
    this.channels.get(channel)!.push(message);
    return message;
  }

  private history(req: RouteRequest): CannedResponse {
    const error = (code: string): CannedResponse => ({ status: 200, body: { ok: false, error: code } });
    const auth = req.headers.authorization;
    if (!auth) return error('not_authed');
    // A test that sets provider.requireAuth (tokens an OAuth server issued) has them checked before this route.
    if (!this.provider.requireAuth && auth !== `Bearer ${this.botToken}`) return error('invalid_auth');
    const { used, resetAt } = this.rate.take();
    if (used > SLACK_TIER3_PER_MINUTE)
      return { status: 429, headers: { 'retry-after': String(Math.ceil((resetAt - this.provider.now()) / 1000)) }, body: { ok: false, error: 'ratelimited' } };
    const q = req.query;
    const numeric = (v: string | undefined) => v === undefined || /^\d+(\.\d+)?$/.test(v);
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (
      unknownParams(req, HISTORY_PARAMS).length ||
      !numeric(q.oldest) ||
      !numeric(q.latest) ||
      !Number.isInteger(limit) ||
      limit < 1 ||
      limit > SLACK_HISTORY_MAX_LIMIT
    )
      return error('invalid_arguments');
    const messages = q.channel ? this.channels.get(q.channel) : undefined;
    if (!messages) return error('channel_not_found');
    const inclusive = q.inclusive === 'true' || q.inclusive === '1';
    const after = (ts: string) => (q.oldest === undefined ? true : inclusive ? Number(ts) >= Number(q.oldest) : Number(ts) > Number(q.oldest));
    const before = (ts: string) => (q.latest === undefined ? true : inclusive ? Number(ts) <= Number(q.latest) : Number(ts) < Number(q.latest));
    const newestFirst = messages.filter((m) => after(m.ts) && before(m.ts)).reverse();
    const offset = q.cursor
      ? Number(
          Buffer.from(q.cursor, 'base64')
            .toString('utf8')
            .replace(/^offset:/, ''),
        )
      : 0;
    if (!Number.isInteger(offset) || offset < 0) return error('invalid_cursor');
    const page = newestFirst.slice(offset, offset + limit);
    const hasMore = offset + limit < newestFirst.length;
    const nextCursor = hasMore ? Buffer.from(`offset:${offset + limit}`).toString('base64') : '';
    return { status: 200, body: { ok: true, messages: page, has_more: hasMore, pin_count: 0, response_metadata: { next_cursor: nextCursor } } };
  }

  /**
   * An Events API delivery, signed as "Verifying requests from Slack" describes
   * (https://api.slack.com/authentication/verifying-requests-from-slack): `v0=` and the hex
   * HMAC-SHA256 of `v0:<X-Slack-Request-Timestamp>:<raw body>` with the app's signing secret. A
   * redelivery (https://api.slack.com/apis/events-api, retries) carries the same event_id with
   * `X-Slack-Retry-Num` and `X-Slack-Retry-Reason`.
   */
  deliver(url: string, payload: object, signingSecret: string, opts: { at?: number; retry?: { num: number; reason: string } } = {}) {
    const body = JSON.stringify(payload);
    const ts = String(Math.floor((opts.at ?? this.provider.now()) / 1000));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-slack-request-timestamp': ts,
      'x-slack-signature': `v0=${createHmac('sha256', signingSecret).update(`v0:${ts}:${body}`).digest('hex')}`,
    };
    if (opts.retry) Object.assign(headers, { 'x-slack-retry-num': String(opts.retry.num), 'x-slack-retry-reason': opts.retry.reason });
    return got.post(url, { body, headers, throwHttpErrors: false, retry: { limit: 0 } });
  }

  /** The event_callback wrapper of an Events API event. */
  callback(eventId: string, event: object): object {
    return {
      token: 'XXYYZZ',
      team_id: 'T0123ABCD',
      api_app_id: 'A0123ABCD',
      event,
      type: 'event_callback',
      event_id: eventId,
      event_time: Math.floor(this.provider.now() / 1000),
    };
  }
}
