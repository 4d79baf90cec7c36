import { expect } from 'chai';
import { UnsupportedMediaTypeError, ValidationError } from '../errors.js';
import { ACCEPTED_WEBHOOK_TYPES, isAcceptedWebhookType, mediaTypeOf, parseWebhookBody } from './parse-body.js';

const parse = (text: string | Buffer, type: string | undefined) => parseWebhookBody(Buffer.isBuffer(text) ? text : Buffer.from(text), type);

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

describe('webhook body parsing', () => {
  describe('JSON', () => {
    it('parses application/json with parameters, +json types and a byte-order mark', () => {
      expect(parse('{"a":1,"id":"007"}', 'application/json; charset=utf-8')).to.deep.equal({ a: 1, id: '007' });
      expect(parse('[{"a":1}]', 'Application/JSON')).to.deep.equal([{ a: 1 }]);
      expect(parse('{"type":"x"}', 'application/cloudevents+json')).to.deep.equal({ type: 'x' });
      expect(parse('\ufeff{"a":"é"}', 'application/json')).to.deep.equal({ a: 'é' });
    });

    it('refuses malformed JSON with a 400 naming the problem', () => {
      for (const text of ['{', '', '{"a":1}x', "{'a':1}"]) {
        const err = thrown(() => parse(text, 'application/json'));
        expect(err, text).to.be.instanceOf(ValidationError);
        expect((err as ValidationError).statusCode).to.equal(400);
        expect(err.message).to.match(/^malformed JSON body: /);
      }
    });

    it('keeps a "__proto__" key as data', () => {
      const parsed = parse('{"__proto__":{"polluted":true}}', 'application/json') as Record<string, unknown>;
      expect(Object.hasOwn(parsed, '__proto__')).to.equal(true);
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    });
  });

  describe('XML', () => {
    it('keeps values as strings, attributes as @_ keys, and text beside attributes as #text', () => {
      const xml =
        '<?xml version="1.0" encoding="UTF-8"?><ticket id="007" priority="1"><subject>Hi &amp; bye</subject><count type="int">10</count><note/><raw><![CDATA[a<b]]></raw></ticket>';
      expect(parse(xml, 'application/xml')).to.deep.equal({
        ticket: { '@_id': '007', '@_priority': '1', subject: 'Hi & bye', count: { '#text': '10', '@_type': 'int' }, note: '', raw: 'a<b' },
      });
    });

    it('makes repeated elements arrays and single ones not', () => {
      expect(parse('<events><event><id>1</id></event></events>', 'text/xml')).to.deep.equal({ events: { event: { id: '1' } } });
      expect(parse('<events><event><id>1</id></event><event><id>2</id></event></events>', 'text/xml; charset=utf-8')).to.deep.equal({
        events: { event: [{ id: '1' }, { id: '2' }] },
      });
    });

    it('accepts +xml types', () => {
      expect(parse('<feed><title>t</title></feed>', 'application/atom+xml')).to.deep.equal({ feed: { title: 't' } });
    });

    it('refuses malformed XML, and XML the parser refuses, with a 400', () => {
      const cases = ['<a><b></a>', '', 'not xml', '<a>1</a><b>2</b>', '<a><__proto__>1</__proto__></a>', `<a>${'<b>'.repeat(150)}${'</b>'.repeat(150)}</a>`];
      for (const text of cases) {
        const err = thrown(() => parse(text, 'application/xml'));
        expect(err, text.slice(0, 40)).to.be.instanceOf(ValidationError);
        expect(err.message).to.match(/^malformed XML body: /);
      }
    });
  });

  describe('forms', () => {
    it('gives strings, arrays for repeated keys, and leaves a JSON payload field a string', () => {
      const form = 'id=1&tag=a&tag=b&tag=c&name=Ann+Lee&note=caf%C3%A9&empty=&payload=%7B%22type%22%3A%22block_actions%22%7D';
      expect(parse(form, 'application/x-www-form-urlencoded; charset=utf-8')).to.deep.equal({
        id: '1',
        tag: ['a', 'b', 'c'],
        name: 'Ann Lee',
        note: 'café',
        empty: '',
        payload: '{"type":"block_actions"}',
      });
      expect(parse('', 'application/x-www-form-urlencoded')).to.deep.equal({});
    });

    it('keeps a field named __proto__ as data', () => {
      const parsed = parse('__proto__=x&a=1', 'application/x-www-form-urlencoded') as Record<string, unknown>;
      expect(Object.hasOwn(parsed, '__proto__')).to.equal(true);
      expect(parsed.a).to.equal('1');
    });
  });

  describe('content types', () => {
    it('refuses other types with a 415 that lists the accepted ones', () => {
      for (const type of ['text/plain', 'multipart/form-data; boundary=x', 'application/jsonx', undefined, '']) {
        const err = thrown(() => parse('{}', type));
        expect(err, String(type)).to.be.instanceOf(UnsupportedMediaTypeError);
        expect((err as UnsupportedMediaTypeError).statusCode).to.equal(415);
        for (const accepted of ACCEPTED_WEBHOOK_TYPES) expect(err.message).to.include(accepted);
      }
      expect(thrown(() => parse('{}', undefined)).message).to.include('"(none)"');
      expect(thrown(() => parse('x', 'text/plain; charset=utf-8')).message).to.include('"text/plain"');
    });

    it('tells which types are accepted', () => {
      expect([...ACCEPTED_WEBHOOK_TYPES]).to.deep.equal(['application/json', 'application/xml', 'text/xml', 'application/x-www-form-urlencoded']);
      for (const type of [
        'application/json',
        'application/vnd.api+json; charset=utf-8',
        'TEXT/XML',
        'application/soap+xml',
        'application/x-www-form-urlencoded',
      ]) {
        expect(isAcceptedWebhookType(type), type).to.equal(true);
      }
      for (const type of ['text/plain', 'application/octet-stream', undefined, 'json']) expect(isAcceptedWebhookType(type), String(type)).to.equal(false);
      expect(mediaTypeOf(' Application/JSON ; charset=utf-8')).to.equal('application/json');
    });
  });
});
