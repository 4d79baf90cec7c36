import { readFileSync } from 'node:fs';
import { Signature } from '@hubspot/api-client/lib/src/utils/signature.js';
import { expect } from 'chai';
import { docInstanceJson, docOAuthInstanceJson, eventTriples, createFromDoc, type CatalogGateway } from '../catalog.js';
import type { RecordedRequest } from '../../../sandbox/provider-server.js';
import { bearerOf, startOAuthServer, type OAuthProvider } from '../../auth/helpers.js';
import { pollNow } from '../../poller/helpers.js';
import { HubSpotEmulator, hubSpotDescriptions, validateHubSpotRequest } from './emulator.js';
import { startPacedGateway } from '../paced-gateway.js';

/**
 * The HubSpot connector against what HubSpot publishes: its requests validated by openapi-backend
 * with HubSpot's own descriptions (the emulator refuses what they refuse), its webhook mapping
 * against the published subscription event types, its signatures against HubSpot's Node library.
 */
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const connector = () => JSON.parse(readFileSync(new URL('../../../connectors/hubspot.json', import.meta.url), 'utf8'));

/** A token-endpoint call as the recorded request it was (a form body). */
const tokenRequest = (body: Record<string, string>): RecordedRequest => ({
  method: 'POST',
  path: '/oauth/v1/token',
  query: {},
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(body).toString(),
  at: 0,
});

describe('connector hubspot: contract with the published descriptions, library and docs', () => {
  let t: CatalogGateway;
  let hs: HubSpotEmulator;
  let oauth: OAuthProvider | undefined;

  beforeEach(async () => {
    t = await startPacedGateway();
    hs = await HubSpotEmulator.start(docInstanceJson('hubspot').configuration['api.key'] as string);
    hs.provider.now = () => t.clock.now();
  });

  afterEach(async () => {
    await t.close();
    await hs.close();
    await oauth?.close();
    oauth = undefined;
  });

  it('a connector whose search is broken on purpose fails the poll: the published Filter.operator enum refuses it (400)', async () => {
    const broken = connector();
    broken.key = 'hubspot-broken';
    broken.events.poller.deals.body.filterGroups[0].filters[0].operator = 'GREATER_OR_EQUAL';
    expect((await t.api.post('elements', { json: broken })).statusCode).to.equal(201);
    const doc = docInstanceJson('hubspot');
    const res = await t.api.post('instances', {
      json: { ...doc, element: { key: 'hubspot-broken' }, configuration: { ...doc.configuration, 'base.url': hs.baseUrl } },
    });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    t.clock.advance(SECOND);
    const result = await pollNow(t, (res.body as unknown as { id: number }).id);
    expect(result.deals.error).to.match(/400/);
    expect(result.contacts.error).to.equal(undefined);
    expect(hs.invalidRequests.map((r) => r.request.path)).to.deep.equal(['/crm/v3/objects/deals/search']);
    expect(hs.invalidRequests[0].errors.join()).to.match(/operator must be equal to one of the allowed values/);
  });

  it('the scopes the connector asks for are exactly those the published search operations require', async () => {
    const descriptions = await hubSpotDescriptions();
    const required = descriptions
      .slice(0, 3)
      .flatMap((d) =>
        Object.values(d.definition.paths ?? {}).flatMap((item) =>
          ((item as { post: { security?: Array<{ oauth2?: string[] }> } }).post.security ?? []).flatMap((alternative) => alternative.oauth2 ?? []),
        ),
      );
    expect(required).to.have.length(3);
    const oauth2 = (connector().auth as Array<{ type: string; scopes?: string[] }>).find((a) => a.type === 'oauth2')!;
    expect([...oauth2.scopes!].sort()).to.deep.equal([...required].sort());
  });

  it('the OAuth code exchange and the refresh are valid requests of the published POST /oauth/v1/token (grant_type enum)', async () => {
    oauth = await startOAuthServer({ token: '/oauth/v1/token', authorize: '/oauth/authorize' });
    hs.provider.requireAuth = { type: 'check', accept: (req) => oauth!.valid.has(bearerOf(req.headers.authorization)) };
    oauth.next.push((a) => void (a.body.expires_in = 1800));
    const json = docOAuthInstanceJson('hubspot');
    const res = await t.api.post('instances', {
      json: { ...json, providerData: { code: 'code-1' }, configuration: { ...json.configuration, 'oauth.base.url': oauth.url, 'base.url': hs.baseUrl } },
    });
    expect(res.statusCode, JSON.stringify(res.body)).to.equal(201);
    t.clock.advance(29 * MINUTE);
    expect((await pollNow(t, (res.body as unknown as { id: number }).id)).contacts.error).to.equal(undefined);
    expect(oauth.calls.map((c) => c.grant)).to.deep.equal(['authorization_code', 'refresh_token']);
    const descriptions = await hubSpotDescriptions();
    for (const call of oauth.calls) expect(validateHubSpotRequest(descriptions, tokenRequest(call.body)), call.grant).to.deep.equal([]);
    // Broken on purpose: a grant type HubSpot does not list.
    expect(validateHubSpotRequest(descriptions, tokenRequest({ ...oauth.calls[0].body, grant_type: 'authorization-code' })).join()).to.match(
      /grant_type must be equal to one of the allowed values/,
    );
    expect(hs.invalidRequests).to.deep.equal([]);
  });

  it("every webhook action the connector maps is a published subscription event type of its objects, and each of those objects' event types is mapped", async () => {
    const descriptions = await hubSpotDescriptions();
    const mapping = connector().events.webhook.events;
    const objects = Object.keys(mapping.objectType.map as Record<string, string>);
    const actions = mapping.eventType.map as Record<string, string>;
    const subscribe = (eventType: string) =>
      validateHubSpotRequest(descriptions, {
        method: 'POST',
        path: '/webhooks/v3/1234/subscriptions',
        query: {},
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ eventType, active: true }),
        at: 0,
      });
    const published = objects.flatMap((o) => Object.keys(actions).map((a) => `${o}.${a}`)).filter((type) => subscribe(type).length === 0);
    for (const action of Object.keys(actions))
      expect(
        published.some((type) => type.endsWith(`.${action}`)),
        action,
      ).to.equal(true);
    expect(subscribe('contact.deleted').join()).to.match(/eventType must be equal to one of the allowed values/); // broken on purpose
    // The published enum, read from the description, for the connector's objects: none falls back to the default.
    const enumValues: string[] = (
      descriptions[4].definition.components!.schemas!.SubscriptionCreateRequest as { properties: { eventType: { enum: string[] } } }
    ).properties.eventType.enum;
    const ofObjects = enumValues.filter((type) => objects.includes(type.split('.')[0]));
    expect(ofObjects.filter((type) => !(type.split('.')[1] in actions))).to.deep.equal([]);
    expect(ofObjects).to.include('contact.privacyDeletion');
    // "Can be one of `create`, `delete`, `deletedForPrivacy`, or `propertyChange`" (the published eventType):
    // a privacy deletion is a deletion.
    expect(actions.privacyDeletion).to.equal('DELETED');
  });

  it("webhook requests the gateway accepts carry signatures HubSpot's library (Signature.isValid, v3) accepts; a privacy deletion becomes DELETED", async () => {
    t.clock.set(Date.now()); // isValid compares the timestamp with the real time
    const clientSecret = 'hs-client-secret-1234';
    const instance = await createFromDoc(t, 'hubspot', hs.baseUrl, { 'event.vendor.type': 'webhook', 'oauth.api.secret': clientSecret });
    const batch = [{ subscriptionType: 'contact.privacyDeletion', objectId: 42 }];
    expect((await hs.notify(instance.hookUrl!, instance.webhookUrl!, batch, clientSecret)).statusCode).to.be.within(200, 299);
    const signed = hs.lastSigned!;
    const check = (secret: string) =>
      Signature.isValid({
        signatureVersion: 'v3',
        method: 'POST',
        url: signed.url,
        requestBody: signed.body,
        timestamp: signed.timestamp,
        signature: signed.signature,
        clientSecret: secret,
      });
    expect(check(clientSecret)).to.equal(true);
    expect(check('another-secret')).to.equal(false);
    expect((await hs.notify(instance.hookUrl!, instance.webhookUrl!, batch, 'another-secret')).statusCode).to.equal(401);
    await t.gateway.webhooks.processor.tick();
    expect(await eventTriples(t, instance.id)).to.deep.equal([['DELETED', 'contacts', '42']]);
  });

  it('search lag: a change not yet searchable is picked up by the next poll through the overlap, once', async () => {
    hs.indexLagMs = 5 * SECOND;
    const { id } = await createFromDoc(t, 'hubspot', hs.baseUrl);
    t.clock.advance(MINUTE);
    hs.objects.contacts.upsert({ email: 'late@example.com' });
    t.clock.advance(SECOND);
    expect((await pollNow(t, id)).contacts).to.include({ fetched: 0, created: 0 });
    t.clock.advance(30 * SECOND);
    expect((await pollNow(t, id)).contacts).to.include({ fetched: 1, created: 1 });
    t.clock.advance(30 * SECOND);
    expect((await pollNow(t, id)).contacts).to.include({ created: 0, updated: 0 });
    expect(await eventTriples(t, id)).to.deep.equal([['CREATED', 'contacts', '1']]);
    expect(hs.invalidRequests).to.deep.equal([]);
  });
});
