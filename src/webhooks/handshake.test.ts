import { expect } from 'chai';
import { Ajv } from 'ajv';
import { DefinitionError } from '../errors.js';
import { handshakeJsonSchema, matchHandshake, validateHandshake, type HandshakeConfig } from './handshake.js';

const echoQuery: HandshakeConfig = { type: 'echo-query', param: 'challenge' };
const slack: HandshakeConfig = { type: 'echo-body', when: { path: '$.type', equals: 'url_verification' }, challengePath: '$.challenge' };
const request = (method: string, query: string, body?: unknown) => ({ method, query: new URLSearchParams(query), body });

describe('webhook verification handshakes', () => {
  describe('echo-query', () => {
    it('echoes the parameter as text/plain on GET and POST', () => {
      expect(matchHandshake(echoQuery, request('GET', 'challenge=abc123'))).to.deep.equal({ status: 200, contentType: 'text/plain', body: 'abc123' });
      expect(matchHandshake(echoQuery, request('post', 'x=1&challenge=a%20b', { any: 'body' }))).to.deep.equal({
        status: 200,
        contentType: 'text/plain',
        body: 'a b',
      });
      const meta: HandshakeConfig = { type: 'echo-query', param: 'hub.challenge' };
      expect(matchHandshake(meta, request('GET', 'hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=t'))?.body).to.equal('1158201444');
    });

    it('is not a handshake without the parameter, with an empty or oversized one, or on other methods', () => {
      expect(matchHandshake(echoQuery, request('POST', '', { challenge: 'in-body' }))).to.equal(null);
      expect(matchHandshake(echoQuery, request('GET', 'challenge='))).to.equal(null);
      expect(matchHandshake(echoQuery, request('GET', `challenge=${'x'.repeat(1025)}`))).to.equal(null);
      expect(matchHandshake(echoQuery, request('PUT', 'challenge=abc'))).to.equal(null);
    });
  });

  describe('echo-body', () => {
    it('answers Slack url_verification with {"challenge": x}', () => {
      const answer = matchHandshake(
        slack,
        request('POST', '', { token: 't', type: 'url_verification', challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P' }),
      );
      expect(answer).to.deep.equal({
        status: 200,
        contentType: 'application/json',
        body: '{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}',
      });
    });

    it('is not a handshake when the condition fails, the challenge is missing or not text, or the method is GET', () => {
      expect(matchHandshake(slack, request('POST', '', { type: 'event_callback', challenge: 'c' }))).to.equal(null);
      expect(matchHandshake(slack, request('POST', '', { challenge: 'c' }))).to.equal(null);
      expect(matchHandshake(slack, request('POST', '', { type: 'url_verification' }))).to.equal(null);
      expect(matchHandshake(slack, request('POST', '', { type: 'url_verification', challenge: { nested: 1 } }))).to.equal(null);
      expect(matchHandshake(slack, request('POST', '', { type: 'url_verification', challenge: '' }))).to.equal(null);
      expect(matchHandshake(slack, request('GET', 'challenge=c', { type: 'url_verification', challenge: 'c' }))).to.equal(null);
      expect(matchHandshake(slack, request('POST', '', undefined))).to.equal(null);
      expect(matchHandshake(slack, request('POST', '', 'url_verification'))).to.equal(null);
    });

    it('compares the condition as text, echoes numbers, and without "when" takes any body with a challenge', () => {
      const numeric: HandshakeConfig = { type: 'echo-body', when: { path: '$.kind', equals: '1' }, challengePath: '$.data.code' };
      expect(matchHandshake(numeric, request('POST', '', { kind: 1, data: { code: 77 } }))?.body).to.equal('{"challenge":77}');
      const unconditional: HandshakeConfig = { type: 'echo-body', challengePath: '$.validationCode' };
      expect(matchHandshake(unconditional, request('POST', '', { validationCode: 'v' }))?.body).to.equal('{"challenge":"v"}');
      expect(matchHandshake(unconditional, request('POST', '', { other: 'v' }))).to.equal(null);
    });

    it('answers nothing for a declaration with a malformed path rather than failing the request', () => {
      expect(matchHandshake({ type: 'echo-body', challengePath: '$.[' }, request('POST', '', { challenge: 'c' }))).to.equal(null);
    });
  });

  describe('declarations', () => {
    const good: unknown[] = [echoQuery, slack, { type: 'echo-body', challengePath: '$.challenge' }];
    const bad: Array<[unknown, RegExp]> = [
      [{ type: 'echo-query' }, /needs "param"/],
      [{ type: 'echo-body' }, /needs "challengePath"/],
      [{ type: 'echo-body', challengePath: 'challenge.' }, /^handshake\.challengePath: .*a dotted path has an empty step/],
      [{ type: 'echo-body', challengePath: '$.c', when: { path: '$.type' } }, /handshake\.when needs "path" .* and "equals"/],
      [{ type: 'echo-body', challengePath: '$.c', when: { path: '$.[', equals: 'x' } }, /^handshake\.when\.path: /],
      [{ type: 'ping' }, /handshake type "ping" is unknown/],
      [undefined, /handshake type undefined is unknown/],
    ];

    it('validateHandshake accepts both forms and names what is wrong', () => {
      for (const cfg of good) expect(() => validateHandshake(cfg), JSON.stringify(cfg)).not.to.throw();
      for (const [cfg, message] of bad) expect(() => validateHandshake(cfg), JSON.stringify(cfg)).to.throw(DefinitionError, message);
    });

    it('the exported JSON Schema accepts the same forms', () => {
      const check = new Ajv({ strict: true }).compile(handshakeJsonSchema);
      for (const cfg of good) expect(check(cfg), JSON.stringify(cfg)).to.equal(true);
      for (const cfg of [
        { type: 'echo-query' },
        { type: 'echo-body' },
        { type: 'echo-query', param: 'c', extra: 1 },
        { type: 'echo-body', challengePath: '$.c', when: { path: '$.t' } },
        { type: 'ping' },
      ]) {
        expect(check(cfg), JSON.stringify(cfg)).to.equal(false);
      }
    });
  });
});
