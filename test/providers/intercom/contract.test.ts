import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import got from 'got';
import { createFromDoc, docInstanceJson, eventTriples, startCatalogGateway, type CatalogGateway } from '../catalog.js';
import { pollNow } from '../../poller/helpers.js';
import { IntercomEmulator } from './emulator.js';

/**
 * The Intercom connector against what Intercom publishes: requests validated by openapi-backend with
 * Intercom's description of API version 2.11 (the emulator refuses what it refuses), the search's
 * day-granular date comparison from that description's prose, and the signed-notification example
 * of Intercom's webhook reference.
 */
const TOKEN = docInstanceJson('intercom').configuration['api.key'] as string;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('connector intercom: contract with the published description and docs', () => {
  let t: CatalogGateway;
  let ic: IntercomEmulator;

  beforeEach(async () => {
    t = await startCatalogGateway();
    ic = await IntercomEmulator.start(TOKEN);
    ic.provider.now = () => t.clock.now();
  });

  afterEach(async () => {
    await t.close();
    await ic.close();
  });

  const search = (json: unknown, headers: Record<string, string> = {}) =>
    got.post(`${ic.baseUrl}/contacts/search`, {
      json,
      headers: { authorization: `Bearer ${TOKEN}`, 'intercom-version': '2.11', ...headers },
      throwHttpErrors: false,
      responseType: 'json',
      retry: { limit: 0 },
    });

  it('requests broken on purpose are refused by the description: an Intercom-Version it does not list, pagination without per_page, an unknown operator', async () => {
    const query = { field: 'updated_at', operator: '>', value: '1700000000' };
    for (const [body, headers, error] of [
      [{ query, pagination: { per_page: 10 } }, { 'intercom-version': '2.99' }, /intercom-version must be equal to one of the allowed values/],
      [{ query, pagination: { starting_after: 'abc' } }, {}, /pagination must have required property 'per_page'/],
      [{ query: { ...query, operator: 'after' } }, {}, /must match exactly one schema in oneOf/],
    ] as const) {
      const res = await search(body, headers);
      expect(res.statusCode, JSON.stringify(body)).to.equal(400);
      expect(JSON.stringify(res.body)).to.match(error);
    }
    expect(ic.invalidRequests).to.have.length(3);

    // The bundled connector with an API version the description does not list: its polls are refused.
    const { id } = await createFromDoc(t, 'intercom', ic.baseUrl, { 'intercom.api.version': '2.99' });
    t.clock.advance(MINUTE);
    expect((await pollNow(t, id)).contacts.error).to.match(/400/);
  });

  it('dates compare by whole days in the workspace time zone, ">" from the next day; >=, <= and != are refused on dates', async () => {
    const noon = Date.parse('2026-11-24T12:00:00Z');
    t.clock.set(noon);
    ic.contacts.upsert({ id: 'morning', email: 'm@example.com' }); // updated_at 12:00 UTC
    t.clock.set(noon + 6 * HOUR);
    ic.contacts.upsert({ id: 'evening', email: 'e@example.com' }); // 18:00 UTC
    const ids = async (operator: string, at: number) =>
      (
        (await search({ query: { field: 'updated_at', operator, value: String(at / 1000) }, pagination: { per_page: 50 } })).body as {
          data: Array<{ id: string }>;
        }
      ).data.map((c) => c.id);
    // ">" a moment after noon still misses the evening record: the value is truncated to its day.
    expect(await ids('>', noon + MINUTE)).to.deep.equal([]);
    expect(await ids('=', noon + MINUTE)).to.deep.equal(['morning', 'evening']);
    expect(await ids('>', noon - 24 * HOUR)).to.deep.equal(['morning', 'evening']);
    // The same query in two workspaces: 01:00 UTC on the 24th is the 24th in UTC (">" from the
    // 25th: nothing) but 15:00 on the 24th in UTC+14, whose next day starts at 10:00 UTC.
    expect(await ids('>', noon - 11 * HOUR)).to.deep.equal([]);
    ic.timeZone = 'Pacific/Kiritimati';
    expect(await ids('>', noon - 11 * HOUR)).to.deep.equal(['morning', 'evening']);
    for (const operator of ['>=', '<=', '!=']) {
      const res = await search({ query: { field: 'updated_at', operator, value: String(noon / 1000) }, pagination: { per_page: 50 } });
      expect(res.statusCode, operator).to.equal(400);
    }
  });

  for (const timeZone of ['UTC', 'Pacific/Kiritimati', 'Pacific/Pago_Pago']) {
    it(`a change later on the same day as the last poll arrives at the next poll (workspace in ${timeZone}), once`, async () => {
      ic.timeZone = timeZone;
      const { id } = await createFromDoc(t, 'intercom', ic.baseUrl);
      t.clock.advance(MINUTE);
      await pollNow(t, id);
      t.clock.advance(5 * MINUTE);
      ic.contacts.upsert({ id: 'same-day', email: 'same@example.com' });
      t.clock.advance(MINUTE);
      expect((await pollNow(t, id)).contacts).to.include({ created: 1 });
      t.clock.advance(10 * MINUTE);
      ic.conversations.upsert({ id: 'conv-late', state: 'open' });
      t.clock.advance(MINUTE);
      const third = await pollNow(t, id);
      expect(third.contacts).to.include({ created: 0, updated: 0 });
      expect(third.conversations).to.include({ created: 1 });
      expect(await eventTriples(t, id)).to.deep.equal([
        ['CREATED', 'contacts', 'same-day'],
        ['CREATED', 'conversations', 'conv-late'],
      ]);
      expect(ic.invalidRequests).to.deep.equal([]);
    });
  }

  it('a contact Intercom has not indexed yet ("This delay can take a few minutes") arrives at a later poll', async () => {
    ic.contactIndexLagMs = 3 * MINUTE;
    const { id } = await createFromDoc(t, 'intercom', ic.baseUrl);
    t.clock.advance(MINUTE);
    ic.contacts.upsert({ id: 'slow', email: 'slow@example.com' });
    t.clock.advance(MINUTE);
    expect((await pollNow(t, id)).contacts).to.include({ created: 0 });
    t.clock.advance(5 * MINUTE);
    expect((await pollNow(t, id)).contacts).to.include({ created: 1 });
  });

  it("Intercom's signed-notification example: X-Hub-Signature sha1= and 40 hex digits of HMAC-SHA1 over the body with the secret; accepted and mapped", async () => {
    const clientSecret = 'ic-client-secret-1234';
    const instance = await createFromDoc(t, 'intercom', ic.baseUrl, { 'event.vendor.type': 'webhook', 'oauth.api.secret': clientSecret });
    // The request of https://developers.intercom.com/intercom-api-reference/v1.0/reference/signed-notifications, as printed.
    const body = `{
  "type" : "notification_event",
  "id" : "notif_78c122d0-23ba-11e4-9464-79b01267cc2e",
  "topic" : "user.created",
  "app_id" : "a86dr8yl",
  "data" : {
    "type" : "notification_event_data",
    "item" : {
      "type" : "user",
      "id" : "530370b477ad7120001d",
      "user_id" : "25",
      "name" : "Hoban Washburne",
      "unsubscribed_from_emails" : false,
      "custom_attributes" : {}
    }
  }
}`;
    // "The signature is the hexadecimal (40-byte) representation of a SHA-1 signature computed using
    // the HMAC algorithm as defined in RFC2104", the header "starts with the string sha1=".
    const signature = `sha1=${createHmac('sha1', clientSecret).update(body).digest('hex')}`;
    expect(signature).to.match(/^sha1=[0-9a-f]{40}$/);
    const post = (header: string) =>
      got.post(instance.hookUrl!, {
        body,
        headers: {
          'user-agent': 'intercom-parrot-service-client/1.0',
          'x-hub-signature': header,
          accept: 'application/json',
          'content-type': 'application/json',
        },
        throwHttpErrors: false,
        retry: { limit: 0 },
      });
    // The example's own signature was made with a secret Intercom does not print: refused here.
    expect((await post('sha1=21ff2e149e0fdcac6f947740f6177f6434bda921')).statusCode).to.equal(401);
    expect((await post(signature)).statusCode).to.be.within(200, 299);
    await t.gateway.webhooks.processor.tick();
    expect(await eventTriples(t, instance.id)).to.deep.equal([['CREATED', 'contacts', '530370b477ad7120001d']]);
  });
});
