import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { DefinitionError } from '../errors.js';
import { SignJWT } from 'jose';
import { readFileSync } from 'node:fs';
import { signatureFor, validateSignatureConfig, verifySignature, verifyWebhookSignature, type SignatureConfig, type VerifyResult } from './signatures.js';

/** A bundled connector's declared signature, so these tests check what ships. */
const bundled = (key: string): SignatureConfig => {
  const def = JSON.parse(readFileSync(new globalThis.URL(`../../connectors/${key}.json`, import.meta.url), 'utf8'));
  const { secret: _secret, ...cfg } = def.events.webhook.signature;
  return cfg;
};
const github = bundled('github');
const shopify = bundled('shopify');
const stripe = bundled('stripe');

// Signatures are computed here independently, with node:crypto and the standardwebhooks package.
const SECRET = 'shhh-secret';
const NOW = Date.parse('2026-11-24T10:00:00Z');
const NOW_S = String(NOW / 1000);
const URL = 'https://gw.example.com/hooks/abc';
const body = Buffer.from('{"id":42,"action":"updated"}');

const hmac = (alg: string, content: string | Buffer, enc: 'hex' | 'base64', key = SECRET) => createHmac(alg, key).update(content).digest(enc);
const req = (headers: Record<string, string | string[]>, raw = body, method = 'POST') => ({ method, url: URL, headers, rawBody: raw });
const reasonOf = (r: VerifyResult) => (r.ok ? 'ok' : r.reason);

const stripeHeader = (t: string, key = SECRET, raw: Buffer = body) => `t=${t},v1=${hmac('sha256', Buffer.concat([Buffer.from(`${t}.`), raw]), 'hex', key)}`;

const SWH_SECRET = `whsec_${Buffer.from('standard-secret-bytes-32-long!!!').toString('base64')}`;
const swh = new Webhook(SWH_SECRET);
/** Standard Webhooks headers signed now: the package checks its tolerance against the real clock. */
const swhHeaders = (raw: Buffer = body, at = new Date()) => ({
  'webhook-id': 'msg_1',
  'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
  'webhook-signature': swh.sign('msg_1', at, raw),
});

const zendesk: SignatureConfig = {
  scheme: 'hmac',
  header: 'X-Zendesk-Webhook-Signature',
  encoding: 'base64',
  signedContent: '{timestamp}{body}',
  timestampHeader: 'X-Zendesk-Webhook-Signature-Timestamp',
};
const hubspot: SignatureConfig = {
  scheme: 'hmac',
  header: 'X-HubSpot-Signature-v3',
  encoding: 'base64',
  signedContent: '{method}{url}{body}{timestamp}',
  timestampHeader: 'X-HubSpot-Request-Timestamp',
  toleranceSeconds: 300,
};
const hubspotHeaders = (ts: string, key = SECRET) => ({
  'x-hubspot-signature-v3': hmac('sha256', `POST${URL}${body}${ts}`, 'base64', key),
  'x-hubspot-request-timestamp': ts,
});

describe('webhook signatures', () => {
  const schemes: Array<{ name: string; cfg: SignatureConfig; secret?: string; good: () => Record<string, string>; bad: () => Record<string, string> }> = [
    {
      name: 'hmac (sha256 hex, the defaults)',
      cfg: { scheme: 'hmac', header: 'X-Signature' },
      good: () => ({ 'x-signature': hmac('sha256', body, 'hex') }),
      bad: () => ({ 'x-signature': hmac('sha256', body, 'hex', 'wrong') }),
    },
    {
      name: 'hmac sha1 base64 with a prefix',
      cfg: { scheme: 'hmac', algorithm: 'sha1', header: 'X-Sig', encoding: 'base64', prefix: 'sha1=' },
      good: () => ({ 'x-sig': `sha1=${hmac('sha1', body, 'base64')}` }),
      bad: () => ({ 'x-sig': `sha1=${hmac('sha256', body, 'base64')}` }),
    },
    {
      name: 'hmac Zendesk {timestamp}{body}',
      cfg: zendesk,
      good: () => ({
        'x-zendesk-webhook-signature': hmac('sha256', `2026-11-24T10:00:00Z${body}`, 'base64'),
        'x-zendesk-webhook-signature-timestamp': '2026-11-24T10:00:00Z',
      }),
      bad: () => ({
        'x-zendesk-webhook-signature': hmac('sha256', `2026-11-24T10:00:01Z${body}`, 'base64'),
        'x-zendesk-webhook-signature-timestamp': '2026-11-24T10:00:00Z',
      }),
    },
    {
      name: 'hmac HubSpot v3 {method}{url}{body}{timestamp}',
      cfg: hubspot,
      good: () => hubspotHeaders(String(NOW)),
      bad: () => hubspotHeaders(String(NOW), 'wrong'),
    },
    {
      name: 'hmac as GitHub declares it (sha256= prefix, hex)',
      cfg: github,
      good: () => ({ 'x-hub-signature-256': `sha256=${hmac('sha256', body, 'hex')}` }),
      bad: () => ({ 'x-hub-signature-256': `sha256=${hmac('sha256', body, 'hex', 'wrong')}` }),
    },
    {
      name: 'hmac as Shopify declares it (base64)',
      cfg: shopify,
      good: () => ({ 'x-shopify-hmac-sha256': hmac('sha256', body, 'base64') }),
      bad: () => ({ 'x-shopify-hmac-sha256': hmac('sha256', body, 'base64', 'wrong') }),
    },
    {
      name: 'hmac-parts as Stripe declares it (t=…,v1=…)',
      cfg: stripe,
      good: () => ({ 'stripe-signature': stripeHeader(NOW_S) }),
      bad: () => ({ 'stripe-signature': stripeHeader(NOW_S, 'wrong') }),
    },
    {
      name: 'standard-webhooks',
      cfg: { scheme: 'standard-webhooks' },
      secret: SWH_SECRET,
      good: () => swhHeaders(),
      bad: () => ({
        ...swhHeaders(),
        'webhook-signature': new Webhook(`whsec_${Buffer.from('another-secret').toString('base64')}`).sign('msg_1', new Date(), body),
      }),
    },
  ];

  for (const s of schemes) {
    it(`${s.name}: accepts a correct signature; refuses a wrong one, a changed body and a missing header`, () => {
      const secret = s.secret ?? SECRET;
      expect(verifySignature(s.cfg, secret, req(s.good()), NOW)).to.deep.equal({ ok: true });
      expect(verifySignature(s.cfg, secret, req(s.bad()), NOW)).to.deep.equal({ ok: false, reason: 'signature mismatch' });
      expect(reasonOf(verifySignature(s.cfg, secret, req(s.good(), Buffer.from('{"id":43,"action":"updated"}')), NOW))).to.equal('signature mismatch');
      expect(reasonOf(verifySignature(s.cfg, secret, req({}), NOW))).to.match(/^missing header /);
      expect(verifySignature(s.cfg, undefined, req(s.good()), NOW)).to.deep.equal({ ok: false, reason: 'no secret configured' });
    });
  }

  it('names the missing header as the connector spells it', () => {
    expect(reasonOf(verifySignature({ scheme: 'hmac', header: 'X-Signature' }, SECRET, req({}), NOW))).to.equal('missing header X-Signature');
    expect(reasonOf(verifySignature(github, SECRET, req({}), NOW))).to.equal('missing header X-Hub-Signature-256');
    expect(reasonOf(verifySignature(stripe, SECRET, req({}), NOW))).to.equal('missing header Stripe-Signature');
    expect(reasonOf(verifySignature({ scheme: 'standard-webhooks' }, SWH_SECRET, req({ 'webhook-id': 'm', 'webhook-timestamp': NOW_S }), NOW))).to.equal(
      'missing header webhook-signature',
    );
  });

  it('shared-secret: the header must equal the secret (the body is not signed)', () => {
    const cfg: SignatureConfig = { scheme: 'shared-secret', header: 'X-Pollgate-Secret' };
    expect(verifySignature(cfg, SECRET, req({ 'x-pollgate-secret': SECRET }), NOW)).to.deep.equal({ ok: true });
    expect(verifySignature(cfg, SECRET, req({ 'x-pollgate-secret': `${SECRET}x` }), NOW)).to.deep.equal({ ok: false, reason: 'signature mismatch' });
    expect(reasonOf(verifySignature(cfg, SECRET, req({}), NOW))).to.equal('missing header X-Pollgate-Secret');
    expect(verifySignature(cfg, undefined, req({ 'x-pollgate-secret': SECRET }), NOW)).to.deep.equal({ ok: false, reason: 'no secret configured' });
    expect(() => validateSignatureConfig({ scheme: 'shared-secret' })).to.throw(DefinitionError, /needs "header"/);
  });

  it('none accepts anything, with or without a secret', () => {
    expect(verifySignature({ scheme: 'none' }, undefined, req({}), NOW)).to.deep.equal({ ok: true });
    expect(verifySignature({ scheme: 'none' }, SECRET, req({ 'x-signature': 'junk' }), NOW)).to.deep.equal({ ok: true });
  });

  it('refuses an unknown scheme', () => {
    expect(reasonOf(verifySignature({ scheme: 'rot13' } as unknown as SignatureConfig, SECRET, req({}), NOW))).to.equal('unknown signature scheme "rot13"');
  });

  describe('hmac', () => {
    const cfg: SignatureConfig = { scheme: 'hmac', header: 'X-Signature', prefix: 'sha256=' };

    it('requires the prefix and accepts upper-case hex', () => {
      const sig = hmac('sha256', body, 'hex');
      expect(verifySignature(cfg, SECRET, req({ 'x-signature': `sha256=${sig.toUpperCase()}` }), NOW)).to.deep.equal({ ok: true });
      expect(reasonOf(verifySignature(cfg, SECRET, req({ 'x-signature': sig }), NOW))).to.equal('header X-Signature does not start with "sha256="');
    });

    it('refuses signatures that are not valid hex / base64 or have the wrong length', () => {
      const hex: SignatureConfig = { scheme: 'hmac', header: 'X-Signature' };
      const b64: SignatureConfig = { ...hex, encoding: 'base64' };
      for (const sig of ['zz', hmac('sha256', body, 'hex').slice(0, 62), `${hmac('sha256', body, 'hex')}00`, hmac('sha256', body, 'base64')]) {
        expect(reasonOf(verifySignature(hex, SECRET, req({ 'x-signature': sig }), NOW)), sig).to.equal('signature mismatch');
      }
      for (const sig of ['!!!!', hmac('sha256', body, 'hex'), hmac('sha1', body, 'base64')]) {
        expect(reasonOf(verifySignature(b64, SECRET, req({ 'x-signature': sig }), NOW)), sig).to.equal('signature mismatch');
      }
    });

    it('finds headers whatever their case and takes the first of repeated ones', () => {
      const cfg2: SignatureConfig = { scheme: 'hmac', header: 'X-Signature' };
      const sig = hmac('sha256', body, 'hex');
      expect(verifySignature(cfg2, SECRET, req({ 'X-SIGNATURE': sig }), NOW)).to.deep.equal({ ok: true });
      expect(verifySignature(cfg2, SECRET, req({ 'x-signature': [sig, 'other'] }), NOW)).to.deep.equal({ ok: true });
    });

    it('signs the exact raw bytes, also when they are not valid UTF-8', () => {
      const raw = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
      const plain: SignatureConfig = { scheme: 'hmac', header: 'X-Signature' };
      expect(verifySignature(plain, SECRET, req({ 'x-signature': hmac('sha256', raw, 'hex') }, raw), NOW)).to.deep.equal({ ok: true });
      const templated: SignatureConfig = { ...zendesk, encoding: 'hex' };
      const signed = Buffer.concat([Buffer.from('2026-11-24T10:00:00Z'), raw]);
      const headers = { 'x-zendesk-webhook-signature': hmac('sha256', signed, 'hex'), 'x-zendesk-webhook-signature-timestamp': '2026-11-24T10:00:00Z' };
      expect(verifySignature(templated, SECRET, req(headers, raw), NOW)).to.deep.equal({ ok: true });
    });

    it('Zendesk: an ISO timestamp is checked against toleranceSeconds when set', () => {
      const ts = '2026-11-24T09:50:00Z'; // ten minutes before NOW
      const headers = { 'x-zendesk-webhook-signature': hmac('sha256', `${ts}${body}`, 'base64'), 'x-zendesk-webhook-signature-timestamp': ts };
      expect(verifySignature(zendesk, SECRET, req(headers), NOW)).to.deep.equal({ ok: true });
      expect(reasonOf(verifySignature({ ...zendesk, toleranceSeconds: 300 }, SECRET, req(headers), NOW))).to.equal('timestamp outside tolerance');
      expect(verifySignature({ ...zendesk, toleranceSeconds: 900 }, SECRET, req(headers), NOW)).to.deep.equal({ ok: true });
      const noTimestamp = { 'x-zendesk-webhook-signature': headers['x-zendesk-webhook-signature'] };
      expect(reasonOf(verifySignature(zendesk, SECRET, req(noTimestamp), NOW))).to.equal('missing header X-Zendesk-Webhook-Signature-Timestamp');
    });

    it('HubSpot v3: timestamps in ms or s, refused outside the tolerance either way', () => {
      expect(verifySignature(hubspot, SECRET, req(hubspotHeaders(String(NOW - 299_000))), NOW)).to.deep.equal({ ok: true });
      expect(verifySignature(hubspot, SECRET, req(hubspotHeaders(NOW_S)), NOW)).to.deep.equal({ ok: true });
      expect(reasonOf(verifySignature(hubspot, SECRET, req(hubspotHeaders(String(NOW - 301_000))), NOW))).to.equal('timestamp outside tolerance');
      expect(reasonOf(verifySignature(hubspot, SECRET, req(hubspotHeaders(String(NOW / 1000 - 301))), NOW))).to.equal('timestamp outside tolerance');
      expect(reasonOf(verifySignature(hubspot, SECRET, req(hubspotHeaders(String(NOW + 301_000))), NOW))).to.equal('timestamp outside tolerance');
      expect(reasonOf(verifySignature(hubspot, SECRET, req(hubspotHeaders('yesterday')), NOW))).to.equal(
        'header X-HubSpot-Request-Timestamp is not a timestamp',
      );
    });

    it('HubSpot v3: the method and URL are part of what is signed', () => {
      const headers = hubspotHeaders(String(NOW));
      expect(verifySignature(hubspot, SECRET, { ...req(headers), method: 'post' }, NOW)).to.deep.equal({ ok: true });
      expect(reasonOf(verifySignature(hubspot, SECRET, { ...req(headers), method: 'PUT' }, NOW))).to.equal('signature mismatch');
      expect(reasonOf(verifySignature(hubspot, SECRET, { ...req(headers), url: `${URL}x` }, NOW))).to.equal('signature mismatch');
    });

    it('refuses a config it cannot apply, at load and at run time', () => {
      const bad: Array<[SignatureConfig, RegExp]> = [
        [{ scheme: 'hmac' }, /needs "header"/],
        [{ scheme: 'hmac', header: 'X-S', signedContent: '{ts}.{body}', timestampHeader: 'X-T' }, /uses \{ts\}/],
        [{ scheme: 'hmac', header: 'X-S', signedContent: '{timestamp}{body}' }, /no timestampHeader/],
        [{ scheme: 'hmac', header: 'X-S', toleranceSeconds: 300 }, /toleranceSeconds needs timestampHeader/],
      ];
      for (const [cfg2, message] of bad) {
        expect(() => validateSignatureConfig(cfg2)).to.throw(DefinitionError, message);
        expect(reasonOf(verifySignature(cfg2, SECRET, req({ 'x-s': 'aa' }), NOW))).to.match(message);
      }
      for (const good of [zendesk, hubspot, github, shopify, stripe, { scheme: 'hmac', header: 'X-S' }] as SignatureConfig[]) {
        expect(() => validateSignatureConfig(good)).not.to.throw();
      }
    });
  });

  describe('secretEncoding: a key handed out base64-encoded', () => {
    const keyBytes = Buffer.from('0123456789abcdef0123456789abcdef');
    const keyB64 = keyBytes.toString('base64');
    const cfg: SignatureConfig = { scheme: 'hmac', header: 'X-Mac', prefix: 'hmac-sha256=', secretEncoding: 'base64' };

    it('keys the HMAC with the decoded bytes, not the base64 text', () => {
      const decodedSig = `hmac-sha256=${createHmac('sha256', keyBytes).update(body).digest('hex')}`;
      expect(verifySignature(cfg, keyB64, req({ 'x-mac': decodedSig }), NOW)).to.deep.equal({ ok: true });
      const textSig = `hmac-sha256=${hmac('sha256', body, 'hex', keyB64)}`;
      expect(reasonOf(verifySignature(cfg, keyB64, req({ 'x-mac': textSig }), NOW))).to.equal('signature mismatch');
      // Without the option the same key is taken as text.
      expect(verifySignature({ ...cfg, secretEncoding: undefined }, keyB64, req({ 'x-mac': textSig }), NOW)).to.deep.equal({ ok: true });
    });

    it('refuses a secret that is not base64, and the option on a scheme without an HMAC key', () => {
      const sig = `hmac-sha256=${hmac('sha256', body, 'hex', 'not base64!')}`;
      expect(reasonOf(verifySignature(cfg, 'not base64!', req({ 'x-mac': sig }), NOW))).to.match(/not valid base64/);
      expect(() => validateSignatureConfig(cfg)).not.to.throw();
      expect(() => validateSignatureConfig({ scheme: 'jwt', secretEncoding: 'base64' })).to.throw(
        DefinitionError,
        /"secretEncoding" applies to the hmac and hmac-parts schemes/,
      );
    });
  });

  describe('hmac-parts (Stripe)', () => {
    it('refuses a timestamp older than the tolerance (300 s declared), and one too far ahead', () => {
      const old = String(NOW / 1000 - 301);
      expect(verifySignature(stripe, SECRET, req({ 'stripe-signature': stripeHeader(old) }), NOW)).to.deep.equal({
        ok: false,
        reason: 'timestamp outside tolerance',
      });
      expect(verifySignature({ ...stripe, toleranceSeconds: 600 }, SECRET, req({ 'stripe-signature': stripeHeader(old) }), NOW)).to.deep.equal({
        ok: true,
      });
      expect(reasonOf(verifySignature(stripe, SECRET, req({ 'stripe-signature': stripeHeader(String(NOW / 1000 + 301)) }), NOW))).to.equal(
        'timestamp outside tolerance',
      );
      expect(verifySignature({ ...stripe, toleranceSeconds: 0 }, SECRET, req({ 'stripe-signature': stripeHeader('1000000000') }), NOW)).to.deep.equal({
        ok: true,
      });
    });

    it('accepts when any v1 signature matches (secret rotation) and ignores v0', () => {
      const good = stripeHeader(NOW_S).split(',')[1];
      const header = `t=${NOW_S},v0=${'ab'.repeat(32)},v1=${'cd'.repeat(32)},v1=deadbeef, ${good}`;
      expect(verifySignature(stripe, SECRET, req({ 'stripe-signature': header }), NOW)).to.deep.equal({ ok: true });
      expect(reasonOf(verifySignature(stripe, SECRET, req({ 'stripe-signature': `t=${NOW_S},v0=${good.slice(3)}` }), NOW))).to.match(
        /^malformed Stripe-Signature/,
      );
    });

    it('refuses a malformed header', () => {
      for (const header of ['v1=abc', `t=${NOW_S}`, 'garbage', `t1=${NOW_S},v1=${'ab'.repeat(32)}`]) {
        expect(reasonOf(verifySignature(stripe, SECRET, req({ 'stripe-signature': header }), NOW)), header).to.equal(
          'malformed Stripe-Signature header: expected t=<timestamp>,v1=<signature>',
        );
      }
      expect(reasonOf(verifySignature(stripe, SECRET, req({ 'stripe-signature': `t=soon,v1=${'ab'.repeat(32)}` }), NOW))).to.equal(
        'the t= part of Stripe-Signature is not a timestamp',
      );
    });
  });

  describe('hmac as GitHub and Shopify declare it', () => {
    it('GitHub: requires "sha256=" and hex; Shopify: requires base64', () => {
      expect(reasonOf(verifySignature(github, SECRET, req({ 'x-hub-signature-256': hmac('sha256', body, 'hex') }), NOW))).to.equal(
        'header X-Hub-Signature-256 does not start with "sha256="',
      );
      expect(reasonOf(verifySignature(github, SECRET, req({ 'x-hub-signature-256': `sha256=${hmac('sha256', body, 'base64')}` }), NOW))).to.equal(
        'signature mismatch',
      );
      expect(reasonOf(verifySignature(shopify, SECRET, req({ 'x-shopify-hmac-sha256': hmac('sha256', body, 'hex') }), NOW))).to.equal('signature mismatch');
    });
  });

  describe('standard-webhooks', () => {
    it('refuses a message older than the package tolerance (5 minutes, real clock)', () => {
      const headers = swhHeaders(body, new Date(Date.now() - 10 * 60_000));
      expect(verifySignature({ scheme: 'standard-webhooks' }, SWH_SECRET, req(headers), NOW)).to.deep.equal({
        ok: false,
        reason: 'timestamp outside tolerance',
      });
    });

    it('verifies bodies that are not JSON', () => {
      const form = Buffer.from('a=1&b=2');
      expect(verifySignature({ scheme: 'standard-webhooks' }, SWH_SECRET, req(swhHeaders(form), form), NOW)).to.deep.equal({ ok: true });
    });

    it('accepts any of several v1 signatures and maps the package errors to reasons', () => {
      const headers = swhHeaders();
      const several = { ...headers, 'webhook-signature': `v1,AAAA ${headers['webhook-signature']}` };
      expect(verifySignature({ scheme: 'standard-webhooks' }, SWH_SECRET, req(several), NOW)).to.deep.equal({ ok: true });
      expect(reasonOf(verifySignature({ scheme: 'standard-webhooks' }, SWH_SECRET, req({ ...headers, 'webhook-timestamp': 'noon' }), NOW))).to.equal(
        'header webhook-timestamp is not a timestamp',
      );
      expect(reasonOf(verifySignature({ scheme: 'standard-webhooks' }, SWH_SECRET, req({ ...headers, 'webhook-id': 'msg_2' }), NOW))).to.equal(
        'signature mismatch',
      );
    });

    it('refuses when the secret is not a usable whsec_ key', () => {
      expect(reasonOf(verifySignature({ scheme: 'standard-webhooks' }, 'whsec_', req(swhHeaders()), NOW))).to.match(
        /^the standard-webhooks secret is not a valid whsec_ key/,
      );
    });
  });

  describe('jwt, and signatures chosen by the configuration', () => {
    const jwt = (secret: string, exp: number) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuedAt(NOW / 1000)
        .setExpirationTime(exp)
        .sign(new TextEncoder().encode(secret));

    it('jwt: a Bearer HS256 token signed with the secret, within its exp at the given clock; anything else is refused with the reason', async () => {
      const cfg: SignatureConfig = { scheme: 'jwt' };
      const good = await jwt(SECRET, NOW / 1000 + 60);
      expect(await verifyWebhookSignature(cfg, SECRET, req({ authorization: `Bearer ${good}` }), NOW)).to.deep.equal({ ok: true });
      expect(reasonOf(await verifyWebhookSignature(cfg, SECRET, req({ authorization: `Bearer ${good}` }), NOW + 120_000))).to.match(/^JWT refused: .*exp/);
      expect(reasonOf(await verifyWebhookSignature(cfg, SECRET, req({ authorization: `Bearer ${await jwt('other', NOW / 1000 + 60)}` }), NOW))).to.match(
        /^JWT refused: signature verification failed/,
      );
      expect(reasonOf(await verifyWebhookSignature(cfg, SECRET, req({}), NOW))).to.equal('missing Authorization: Bearer token');
      // The other schemes answer as verifySignature does.
      expect(
        await verifyWebhookSignature({ scheme: 'hmac', header: 'X-Signature' }, SECRET, req({ 'x-signature': hmac('sha256', body, 'hex') }), NOW),
      ).to.deep.equal({
        ok: true,
      });
    });

    it('signatureFor: the first alternative the configuration picks (when all set, unless none set), else signature', () => {
      const admin = { unless: 'oauth.api.key', scheme: 'hmac' as const, header: 'X-Hub-Signature' };
      const app = { when: 'oauth.api.key', scheme: 'jwt' as const };
      expect(signatureFor({ signatures: [admin, app] }, { 'oauth.api.key': 'client' })).to.equal(app);
      expect(signatureFor({ signatures: [admin, app] }, { 'oauth.api.key': ' ' })).to.equal(admin);
      expect(signatureFor({ signatures: [app] }, {})).to.equal(undefined);
      expect(signatureFor({ signature: github }, {})).to.equal(github);
    });
  });

  describe('the generic forms: templates, header values and clear config errors', () => {
    // Slack's worked example, "Verifying requests from Slack"
    // (https://api.slack.com/authentication/verifying-requests-from-slack): the signing secret,
    // X-Slack-Request-Timestamp, the raw body of a slash command and the X-Slack-Signature it produced.
    const slackSecret = '8f742231b10e8888abcd99yyyzzz85a5';
    const slackBody = Buffer.from(
      'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
    );
    const slackHeaders = {
      'x-slack-request-timestamp': '1531420618',
      'x-slack-signature': 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
    };
    const slack: SignatureConfig = {
      scheme: 'hmac',
      header: 'X-Slack-Signature',
      prefix: 'v0=',
      signedContent: 'v0:{timestamp}:{body}',
      timestampHeader: 'X-Slack-Request-Timestamp',
      toleranceSeconds: 300,
    };
    const slackNow = 1531420618 * 1000;

    it("hmac over a template with literal separators: Slack's published example verifies; 5 minutes later it is refused", () => {
      expect(verifySignature(slack, slackSecret, req(slackHeaders, slackBody), slackNow + 299_000)).to.deep.equal({ ok: true });
      expect(reasonOf(verifySignature(slack, slackSecret, req(slackHeaders, slackBody), slackNow + 301_000))).to.equal('timestamp outside tolerance');
      const otherTime = { ...slackHeaders, 'x-slack-request-timestamp': '1531420619' };
      expect(reasonOf(verifySignature(slack, slackSecret, req(otherTime, slackBody), slackNow))).to.equal('signature mismatch');
      expect(reasonOf(verifySignature(slack, `${slackSecret}x`, req(slackHeaders, slackBody), slackNow))).to.equal('signature mismatch');
    });

    it('{header:<Name>} puts a request header into the signed content; a request without it is refused by name', () => {
      const cfg: SignatureConfig = {
        scheme: 'hmac',
        header: 'X-Sig',
        signedContent: '{header:X-Delivery}.{method}.{body}',
        algorithm: 'sha512',
        encoding: 'base64',
      };
      const sig = hmac('sha512', `d-1.POST.${body}`, 'base64');
      expect(verifySignature(cfg, SECRET, req({ 'x-sig': sig, 'x-delivery': 'd-1' }), NOW)).to.deep.equal({ ok: true });
      expect(reasonOf(verifySignature(cfg, SECRET, req({ 'x-sig': sig, 'x-delivery': 'd-2' }), NOW))).to.equal('signature mismatch');
      expect(reasonOf(verifySignature(cfg, SECRET, req({ 'x-sig': sig }), NOW))).to.equal('missing header X-Delivery');
    });

    it('hmac-parts without a timestamp part signs what the template says; other keys are ignored', () => {
      const cfg: SignatureConfig = { scheme: 'hmac-parts', header: 'X-Sig', parts: { signature: 's' } };
      const sig = hmac('sha256', body, 'hex');
      expect(verifySignature(cfg, SECRET, req({ 'x-sig': `k=1,s=${'00'.repeat(32)},s=${sig}` }), NOW)).to.deep.equal({ ok: true });
      expect(reasonOf(verifySignature(cfg, SECRET, req({ 'x-sig': `k=${sig}` }), NOW))).to.equal('malformed X-Sig header: expected s=<signature>');
    });

    it('timestampPath: the timestamp in the JSON body (Linear-style, epoch ms, not signed), checked against the tolerance', () => {
      const cfg: SignatureConfig = { scheme: 'hmac', header: 'Linear-Signature', timestampPath: '$.webhookTimestamp', toleranceSeconds: 60 };
      const signedBody = (at: number) => Buffer.from(JSON.stringify({ action: 'create', webhookTimestamp: at }));
      const sig = (raw: Buffer) => ({ 'linear-signature': hmac('sha256', raw, 'hex') });
      expect(verifySignature(cfg, SECRET, req(sig(signedBody(NOW - 59_000)), signedBody(NOW - 59_000)), NOW)).to.deep.equal({ ok: true });
      expect(reasonOf(verifySignature(cfg, SECRET, req(sig(signedBody(NOW - 61_000)), signedBody(NOW - 61_000)), NOW))).to.equal('timestamp outside tolerance');
      const none = Buffer.from('{"action":"create"}');
      expect(reasonOf(verifySignature(cfg, SECRET, req(sig(none), none), NOW))).to.equal('missing $.webhookTimestamp in the body');
      const form = Buffer.from('a=1');
      expect(reasonOf(verifySignature(cfg, SECRET, req(sig(form), form), NOW))).to.equal('missing $.webhookTimestamp in the body');
    });

    it('refuses at load, naming the field, what it could not apply', () => {
      const bad: Array<[SignatureConfig, string | RegExp]> = [
        [{ scheme: 'hmac-parts' }, 'the hmac-parts scheme needs "header", the name of the signature header'],
        [
          { scheme: 'hmac-parts', header: 'X-S' },
          'the hmac-parts scheme needs "parts": {"signature": <key>, "timestamp": <key>}, the keys of the header\'s key=value parts',
        ],
        [
          { scheme: 'hmac-parts', header: 'X-S', parts: { signature: 'v1' }, signedContent: '{timestamp}.{body}' },
          'signedContent uses {timestamp} but parts.timestamp is not set',
        ],
        [
          { scheme: 'hmac-parts', header: 'X-S', parts: { signature: 'v1' }, toleranceSeconds: 60 },
          'toleranceSeconds needs parts.timestamp, the key of the part that carries the timestamp',
        ],
        [
          { scheme: 'hmac-parts', header: 'X-S', parts: { signature: 'v1', timestamp: 't' }, timestampHeader: 'X-T' },
          '"timestampHeader" applies to the hmac scheme; with hmac-parts the timestamp is the part named by parts.timestamp',
        ],
        [
          { scheme: 'hmac', header: 'X-S', parts: { signature: 'v1' } },
          '"parts" applies to the hmac-parts scheme; the hmac scheme reads the whole header as the signature',
        ],
        [
          { scheme: 'hmac', header: 'X-S', signedContent: '{nonce}{body}' },
          'signedContent uses {nonce}; the placeholders are {body}, {timestamp}, {method}, {url} and {header:<Name>}',
        ],
        [
          { scheme: 'hmac', header: 'X-S', signedContent: '{header:}{body}' },
          'signedContent uses {header:}; the placeholders are {body}, {timestamp}, {method}, {url} and {header:<Name>}',
        ],
        [{ scheme: 'jwt', prefix: 'v0=' }, '"prefix" applies to the hmac and hmac-parts schemes, not to "jwt"'],
        [
          { scheme: 'hmac', header: 'X-S', timestampHeader: 'X-T', timestampPath: '$.ts' },
          'timestampHeader and timestampPath cannot be combined: the timestamp is in a header or in the body',
        ],
        [{ scheme: 'hmac', header: 'X-S', timestampPath: '$[', toleranceSeconds: 60 }, /timestampPath/],
        [{ scheme: 'standard-webhooks', toleranceSeconds: 60 }, '"toleranceSeconds" applies to the hmac and hmac-parts schemes, not to "standard-webhooks"'],
      ];
      for (const [cfg, message] of bad) expect(() => validateSignatureConfig(cfg), String(message)).to.throw(DefinitionError, message);
      expect(() => validateSignatureConfig(slack)).not.to.throw();
    });
  });
});
