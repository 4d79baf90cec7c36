import { expect } from 'chai';
import { formatJavaDate, parseJavaDate, renderDateTemplates, renderDateTemplatesDeep, validateDateTemplates } from './date-template.js';
import { listTemplateRefs, renderDeep, renderString, validateRequestTemplate } from './request-template.js';

const WINTER = Date.parse('2026-11-24T09:59:00.123Z');
const SUMMER = Date.parse('2026-07-01T12:00:00.000Z');

describe('date templates', () => {
  const cases: Array<[string, number, string, string]> = [
    ["yyyy-MM-dd'T'HH:mm:ssXXX", WINTER, 'UTC', '2026-11-24T09:59:00Z'],
    ["yyyy-MM-dd'T'HH:mm:ssXXX", WINTER, 'America/New_York', '2026-11-24T04:59:00-05:00'],
    ["yyyy-MM-dd'T'HH:mm:ssXXX", SUMMER, 'America/New_York', '2026-07-01T08:00:00-04:00'],
    ["yyyy-MM-dd'T'HH:mm:ssXXX", WINTER, 'Asia/Kolkata', '2026-11-24T15:29:00+05:30'],
    ["yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", WINTER, 'UTC', '2026-11-24T09:59:00.123Z'],
    ["yyyy-MM-dd'T'HH:mm:ssZ", WINTER, 'Asia/Kolkata', '2026-11-24T15:29:00+0530'],
    ["yyyy-MM-dd'T'HH:mm:ssZ", WINTER, 'UTC', '2026-11-24T09:59:00+0000'],
    ['yyyyMMddHHmmss', WINTER, 'Europe/Paris', '20261124105900'],
    ["EEE, dd MMM yyyy hh:mm a", WINTER, 'UTC', 'Tue, 24 Nov 2026 09:59 AM'],
    ["yyyy-MM-dd'T'HH:mm:ss''X", WINTER, 'UTC', "2026-11-24T09:59:00'Z"],
  ];
  for (const [pattern, at, zone, expected] of cases) {
    it(`formats ${pattern} in ${zone}`, () => {
      expect(formatJavaDate(at, pattern, zone)).to.equal(expected);
    });
  }

  it('renders date, gmtDate and epoch forms, URL-encoding for URLs only', () => {
    const text = "where=updated_at>'${date:yyyy-MM-dd'T'HH:mm:ssXXX}'&g=${gmtDate:HH:mm}&s=${epoch:s}&e=${epoch}&ms=${epoch:ms}&m=${epochMs}";
    expect(renderDateTemplates(text, WINTER, { timeZone: 'Europe/Paris', encode: true })).to.equal(
      "where=updated_at>'2026-11-24T10%3A59%3A00%2B01%3A00'&g=09%3A59&s=1795514340&e=1795514340&ms=1795514340123&m=1795514340123",
    );
    expect(renderDateTemplatesDeep({ filters: [{ value: '${epoch:ms}' }], at: '${gmtDate:yyyy}' }, WINTER, { encode: false })).to.deep.equal({ filters: [{ value: '1795514340123' }], at: '2026' });
  });

  it('refuses unsupported pattern letters and unknown templates at load time', () => {
    expect(() => validateDateTemplates('${date:YYYY-ww}')).to.throw(/letter "Y" is not supported/);
    expect(() => validateDateTemplates('${date:yyyy-DDD}')).to.throw(/letter "D"/);
    expect(() => validateDateTemplates('${now}')).to.throw(/unknown template/);
    expect(() => validateDateTemplates('${epoch:ns}')).to.throw(/epoch/);
    expect(() => validateDateTemplates("${date:yyyy-MM-dd'T'HH:mm:ss.SSSXXX}")).not.to.throw();
  });

  it('parses provider dates with a Java pattern, falling back to ISO', () => {
    expect(parseJavaDate('2026-11-24T10:59:00+01:00', "yyyy-MM-dd'T'HH:mm:ssXXX")?.toISOString()).to.equal('2026-11-24T09:59:00.000Z');
    expect(parseJavaDate('2026-11-24 04:59:00', 'yyyy-MM-dd HH:mm:ss', 'America/New_York')?.toISOString()).to.equal('2026-11-24T09:59:00.000Z');
    expect(parseJavaDate('2026-11-24T09:59:00Z', 'dd/MM/yyyy')?.toISOString()).to.equal('2026-11-24T09:59:00.000Z');
    expect(parseJavaDate('not a date', 'yyyy')).to.equal(null);
  });
});

describe('request templates', () => {
  const scope = { iparam: { domain: 'acme', api_key: 'k-1', 'event.x': 'dotted' }, context: { ticket: { id: 42 }, q: 'a b/c' }, access_token: 'tok' };

  it('substitutes iparam, nested context, encode() and access_token', () => {
    expect(renderString('https://<%= iparam.domain %>.example.com/t/<%= context.ticket.id %>', scope)).to.equal('https://acme.example.com/t/42');
    expect(renderString('Basic <%= encode(iparam.api_key) %>', scope)).to.equal(`Basic ${Buffer.from('k-1').toString('base64')}`);
    expect(renderString('Bearer <%= access_token %> <%= iparam.event.x %>', scope)).to.equal('Bearer tok dotted');
    expect(renderString('/search/<%= context.q %>', scope, { urlEncode: true })).to.equal('/search/a%20b%2Fc');
    expect(renderDeep({ a: ['<%= context.ticket.id %>'] }, scope)).to.deep.equal({ a: ['42'] });
  });

  it('names a missing context value, and renders a missing optional iparam as empty', () => {
    expect(() => renderString('<%= context.ticket.title %>', scope)).to.throw(/missing context value "ticket.title"/);
    expect(renderString('[<%= iparam.optional %>]', scope)).to.equal('[]');
  });

  it('refuses tags that are not one of the four forms', () => {
    expect(() => listTemplateRefs('<%= process.env.HOME %>')).to.throw(/unsupported template tag/);
    expect(() => listTemplateRefs('<%= require("fs") %>')).to.throw(/unsupported template tag/);
  });

  it('refuses a secret in a URL, naming connector, template and field', () => {
    const secrets = new Set(['api_key']);
    expect(() => validateRequestTemplate('fd', 'getTicket', { schema: { path: '/t?key=<%= iparam.api_key %>' } }, secrets)).to.throw(/connector "fd", template "getTicket", field "schema.path": secret iparam "api_key"/);
    expect(() => validateRequestTemplate('fd', 'getTicket', { schema: { query: { key: '<%= iparam.api_key %>' } } }, secrets)).to.throw(/field "schema.query.key"/);
    expect(() => validateRequestTemplate('fd', 'ok', { schema: { headers: { Authorization: 'Basic <%= encode(iparam.api_key) %>' } } }, secrets)).not.to.throw();
    expect(() => validateRequestTemplate('fd', 'slow', { schema: {}, options: { timeout: 30000 } }, secrets)).to.throw(/options.timeout/);
    expect(() => validateRequestTemplate('fd', 'many', { schema: {}, options: { maxAttempts: 9 } }, secrets)).to.throw(/options.maxAttempts/);
    expect(() => validateRequestTemplate('fd', 'fast', { schema: {}, options: { retryDelay: 5000 } }, secrets)).to.throw(/options.retryDelay/);
  });
});
