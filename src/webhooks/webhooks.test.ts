import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { verifySignature, type SignatureConfig } from './signatures.js';
import { parseWebhookBody } from './parse-body.js';
import { mapWebhookBody } from './mapping.js';
import { matchHandshake } from './handshake.js';

const SECRET = 'shhh-secret';
const NOW = Date.parse('2026-11-24T10:00:00Z');
const body = Buffer.from('{"id":42,"action":"updated"}');
const hmac = (alg: string, content: string | Buffer, enc: 'hex' | 'base64', key = SECRET) => createHmac(alg, key).update(content).digest(enc);
const req = (headers: Record<string, string>, raw = body) => ({ method: 'POST', url: 'https://gw.example.com/hooks/abc', headers, rawBody: raw });

describe('webhook signatures', () => {
  const nowS = String(NOW / 1000);
  const stripeSig = (t: string, key = SECRET) => `t=${t},v1=${hmac('sha256', `${t}.${body}`, 'hex', key)}`;
  const swh = new Webhook(`whsec_${Buffer.from('standard-secret-bytes').toString('base64')}`);
  const swhHeaders = () => {
    const ts = new Date();
    return { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)), 'webhook-signature': swh.sign('msg_1', ts, body.toString()) };
  };

  const schemes: Array<{ name: string; cfg: SignatureConfig; secret?: string; good: () => Record<string, string>; bad: () => Record<string, string> }> = [
    { name: 'hmac hex', cfg: { scheme: 'hmac', header: 'X-Signature' }, good: () => ({ 'x-signature': hmac('sha256', body, 'hex') }), bad: () => ({ 'x-signature': hmac('sha256', 'other', 'hex') }) },
    { name: 'hmac sha1 base64 with prefix', cfg: { scheme: 'hmac', algorithm: 'sha1', header: 'X-Sig', encoding: 'base64', prefix: 'sha1=' }, good: () => ({ 'x-sig': `sha1=${hmac('sha1', body, 'base64')}` }), bad: () => ({ 'x-sig': hmac('sha1', body, 'base64') }) },
    {
      name: 'hmac Zendesk {timestamp}{body}', cfg: { scheme: 'hmac', header: 'X-Zendesk-Webhook-Signature', encoding: 'base64', signedContent: '{timestamp}{body}', timestampHeader: 'X-Zendesk-Webhook-Signature-Timestamp' },
      good: () => ({ 'x-zendesk-webhook-signature': hmac('sha256', `2026-11-24T10:00:00Z${body}`, 'base64'), 'x-zendesk-webhook-signature-timestamp': '2026-11-24T10:00:00Z' }),
      bad: () => ({ 'x-zendesk-webhook-signature': hmac('sha256', `2026-11-24T10:00:01Z${body}`, 'base64'), 'x-zendesk-webhook-signature-timestamp': '2026-11-24T10:00:00Z' }),
    },
    {
      name: 'hmac HubSpot v3', cfg: { scheme: 'hmac', header: 'X-HubSpot-Signature-v3', encoding: 'base64', signedContent: '{method}{url}{body}{timestamp}', timestampHeader: 'X-HubSpot-Request-Timestamp', toleranceSeconds: 300 },
      good: () => ({ 'x-hubspot-signature-v3': hmac('sha256', `POSThttps://gw.example.com/hooks/abc${body}${NOW}`, 'base64'), 'x-hubspot-request-timestamp': String(NOW) }),
      bad: () => ({ 'x-hubspot-signature-v3': hmac('sha256', `POSThttps://gw.example.com/hooks/abc${body}${NOW - 600_000}`, 'base64'), 'x-hubspot-request-timestamp': String(NOW - 600_000) }),
    },
    { name: 'github', cfg: { scheme: 'github' }, good: () => ({ 'x-hub-signature-256': `sha256=${hmac('sha256', body, 'hex')}` }), bad: () => ({ 'x-hub-signature-256': `sha256=${hmac('sha256', body, 'hex', 'wrong')}` }) },
    { name: 'shopify', cfg: { scheme: 'shopify' }, good: () => ({ 'x-shopify-hmac-sha256': hmac('sha256', body, 'base64') }), bad: () => ({ 'x-shopify-hmac-sha256': hmac('sha256', body, 'hex') }) },
    { name: 'stripe', cfg: { scheme: 'stripe' }, good: () => ({ 'stripe-signature': `${stripeSig(nowS)},v1=deadbeef` }), bad: () => ({ 'stripe-signature': stripeSig(nowS, 'wrong') }) },
    { name: 'standard-webhooks', cfg: { scheme: 'standard-webhooks' }, secret: `whsec_${Buffer.from('standard-secret-bytes').toString('base64')}`, good: swhHeaders, bad: () => ({ ...swhHeaders(), 'webhook-signature': 'v1,AAAA' }) },
  ];

  for (const s of schemes) {
    it(`${s.name}: accepts a correct signature, refuses a wrong one and a missing header`, () => {
      const secret = s.secret ?? SECRET;
      expect(verifySignature(s.cfg, secret, req(s.good()), NOW)).to.deep.equal({ ok: true });
      expect(verifySignature(s.cfg, secret, req(s.bad()), NOW).ok).to.equal(false);
      const missing = verifySignature(s.cfg, secret, req({}), NOW);
      expect(missing.ok).to.equal(false);
      expect((missing as { reason: string }).reason).to.match(/missing header/);
      expect(verifySignature(s.cfg, secret, req(s.good(), Buffer.from('{"id":43}')), NOW).ok).to.equal(false);
    });
  }

  it('stripe: refuses a timestamp older than the tolerance', () => {
    const old = String(NOW / 1000 - 301);
    expect(verifySignature({ scheme: 'stripe' }, SECRET, req({ 'stripe-signature': stripeSig(old) }), NOW)).to.deep.equal({ ok: false, reason: 'timestamp outside tolerance' });
    expect(verifySignature({ scheme: 'stripe', toleranceSeconds: 600 }, SECRET, req({ 'stripe-signature': stripeSig(old) }), NOW).ok).to.equal(true);
  });

  it('refuses when no secret is configured, except for scheme none', () => {
    expect(verifySignature({ scheme: 'github' }, undefined, req({}), NOW)).to.deep.equal({ ok: false, reason: 'no secret configured' });
    expect(verifySignature({ scheme: 'none' }, undefined, req({}), NOW)).to.deep.equal({ ok: true });
  });
});

describe('webhook bodies and mapping', () => {
  it('parses JSON, XML and form bodies; refuses malformed and unsupported ones', () => {
    expect(parseWebhookBody(Buffer.from('{"a":1}'), 'application/json; charset=utf-8')).to.deep.equal({ a: 1 });
    expect(parseWebhookBody(Buffer.from('<event type="ticket"><id>007</id></event>'), 'application/xml')).to.deep.equal({ event: { '@_type': 'ticket', id: '007' } });
    expect(parseWebhookBody(Buffer.from('id=1&tag=a&tag=b&payload=%7B%22x%22%3A1%7D'), 'application/x-www-form-urlencoded')).to.deep.equal({ id: '1', tag: ['a', 'b'], payload: '{"x":1}' });
    expect(() => parseWebhookBody(Buffer.from('{'), 'application/json')).to.throw(/malformed JSON/);
    expect(() => parseWebhookBody(Buffer.from('<a><b></a>'), 'text/xml')).to.throw(/malformed XML/);
    expect(() => parseWebhookBody(Buffer.from('x'), 'text/plain')).to.throw(/text\/plain/);
  });

  it('maps items by JSONPath, headers and literals, with fallbacks, value maps and defaults', () => {
    const mapping = {
      itemsPath: '$.events',
      objectType: ['$.type', '=tickets'],
      objectId: ['$.data.id', '$.id'],
      eventType: { from: '$.action', map: { created: 'CREATED', removed: 'DELETED' }, default: 'UPDATED' },
      date: '$.at',
    };
    const body = {
      events: [
        { type: 'contacts', action: 'created', data: { id: 42 }, at: 1795514340 },
        { action: 'removed', id: 'x-1', at: '2026-11-24T09:00:00+01:00' },
        { type: 'contacts', action: 'touched', data: { id: 7 }, at: 1795514340123 },
        { type: 'contacts', action: 'created' },
      ],
    };
    const { events, unmapped } = mapWebhookBody(mapping, body, {}, NOW);
    expect(events.map((e) => [e.objectType, e.objectId, e.eventType, e.date])).to.deep.equal([
      ['contacts', '42', 'CREATED', '2026-11-24T09:59:00.000Z'],
      ['tickets', 'x-1', 'DELETED', '2026-11-24T08:00:00.000Z'],
      ['contacts', '7', 'UPDATED', '2026-11-24T09:59:00.123Z'],
    ]);
    expect(unmapped).to.have.length(1);
    expect(unmapped[0]).to.include({ index: 3, reason: 'no objectId at $.data.id, $.id' });
  });

  it('takes the event type from a header (GitHub style), case-insensitively', () => {
    const { events } = mapWebhookBody({ objectType: 'header:X-GitHub-Event', objectId: '$.issue.number', eventType: { from: '$.action', map: { opened: 'CREATED', closed: 'UPDATED' } } }, { action: 'opened', issue: { number: 12 } }, { 'x-github-event': 'issues' }, NOW);
    expect(events).to.have.length(1);
    expect(events[0]).to.include({ objectType: 'issues', objectId: '12', eventType: 'CREATED', date: new Date(NOW).toISOString() });
  });

  it('answers verification handshakes', () => {
    expect(matchHandshake({ type: 'echo-query', param: 'challenge' }, { method: 'GET', query: new URLSearchParams('challenge=abc'), body: undefined })).to.deep.equal({ status: 200, contentType: 'text/plain', body: 'abc' });
    const slack = { type: 'echo-body' as const, when: { path: '$.type', equals: 'url_verification' }, challengePath: '$.challenge' };
    expect(matchHandshake(slack, { method: 'POST', query: new URLSearchParams(), body: { type: 'url_verification', challenge: 'c1' } })?.body).to.equal('{"challenge":"c1"}');
    expect(matchHandshake(slack, { method: 'POST', query: new URLSearchParams(), body: { type: 'event_callback' } })).to.equal(null);
  });
});
