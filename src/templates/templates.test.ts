import { expect } from 'chai';
import { DefinitionError, ValidationError } from '../errors.js';
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
    ['EEE, dd MMM yyyy hh:mm a', WINTER, 'UTC', 'Tue, 24 Nov 2026 09:59 AM'],
    ["yyyy-MM-dd'T'HH:mm:ss''X", WINTER, 'UTC', "2026-11-24T09:59:00'Z"],
    ["yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", Date.parse('2026-11-24T09:59:00.000Z'), 'UTC', '2026-11-24T09:59:00.000Z'],
    ["yyyy-MM-dd'T'HH:mm:ss.SSSXXX", SUMMER, 'America/New_York', '2026-07-01T08:00:00.000-04:00'],
    ["yyyy-MM-dd'T'HH:mm:ssXX", WINTER, 'Asia/Kolkata', '2026-11-24T15:29:00+0530'],
    ["yyyy-MM-dd'T'HH:mm:ssX", WINTER, 'Asia/Kolkata', '2026-11-24T15:29:00+05'],
    ["yyyy-MM-dd'T'HH:mm:ssX", WINTER, 'America/New_York', '2026-11-24T04:59:00-05'],
    ["yyyy-MM-dd'T'HH:mm:ssX", WINTER, 'UTC', '2026-11-24T09:59:00Z'],
    ["yyyy-MM-dd'T'HH:mm:ssZ", SUMMER, 'America/New_York', '2026-07-01T08:00:00-0400'],
    ['HH:mm:ss.S', Date.parse('2026-11-24T09:59:00.005Z'), 'UTC', '09:59:00.5'],
    ['HH:mm:ss.SS', Date.parse('2026-11-24T09:59:00.005Z'), 'UTC', '09:59:00.05'],
    ['HH:mm:ss.SSSS', Date.parse('2026-11-24T09:59:00.123Z'), 'UTC', '09:59:00.0123'],
    ['dd/MM/yy hh:mm a z', SUMMER, 'America/New_York', '01/07/26 08:00 AM EDT'],
    ['EEEE d MMMM yyyy zzzz', WINTER, 'UTC', 'Tuesday 24 November 2026 Coordinated Universal Time'],
    ["h 'o''clock' a", WINTER, 'UTC', "9 o'clock AM"],
    ['k:mm K', Date.parse('2026-11-24T00:30:00Z'), 'UTC', '24:30 0'],
  ];
  for (const [pattern, at, zone, expected] of cases) {
    it(`formats ${pattern} in ${zone} at ${new Date(at).toISOString()}`, () => {
      expect(formatJavaDate(at, pattern, zone)).to.equal(expected);
    });
  }

  it('renders date, gmtDate and epoch forms, URL-encoding for URLs only', () => {
    const text = "where=updated_at>'${date:yyyy-MM-dd'T'HH:mm:ssXXX}'&g=${gmtDate:HH:mm}&s=${epoch:s}&e=${epoch}&ms=${epoch:ms}&m=${epochMs}";
    expect(renderDateTemplates(text, WINTER, { timeZone: 'Europe/Paris', encode: true })).to.equal(
      "where=updated_at>'2026-11-24T10%3A59%3A00%2B01%3A00'&g=09%3A59&s=1795514340&e=1795514340&ms=1795514340123&m=1795514340123",
    );
    expect(renderDateTemplatesDeep({ filters: [{ value: '${epoch:ms}' }], at: '${gmtDate:yyyy}' }, WINTER, { encode: false })).to.deep.equal({
      filters: [{ value: '1795514340123' }],
      at: '2026',
    });
  });

  it('renders in the instance time zone across daylight saving, and in UTC for gmtDate', () => {
    const text = "${date:yyyy-MM-dd'T'HH:mm:ssXXX}|${gmtDate:yyyy-MM-dd'T'HH:mm:ssXXX}";
    expect(renderDateTemplates(text, WINTER, { timeZone: 'America/New_York', encode: false })).to.equal('2026-11-24T04:59:00-05:00|2026-11-24T09:59:00Z');
    expect(renderDateTemplates(text, SUMMER, { timeZone: 'America/New_York', encode: false })).to.equal('2026-07-01T08:00:00-04:00|2026-07-01T12:00:00Z');
    expect(renderDateTemplates(text, new Date(WINTER), { timeZone: 'Asia/Kolkata', encode: true })).to.equal(
      '2026-11-24T15%3A29%3A00%2B05%3A30|2026-11-24T09%3A59%3A00Z',
    );
    expect(renderDateTemplates('${date}', WINTER, { encode: false })).to.equal('2026-11-24T09:59:00Z');
    expect(renderDateTemplates('no templates', WINTER, { encode: true })).to.equal('no templates');
  });

  it('refuses unsupported pattern letters and unknown templates at load time', () => {
    expect(() => validateDateTemplates('${date:yyyy-MM-dd G}')).to.throw(DefinitionError, /date pattern "yyyy-MM-dd G": the letter "G" is not supported/);
    expect(() => validateDateTemplates("${date:yyyy-MM-dd'T}")).to.throw(DefinitionError, /unterminated quote/);
    expect(() => validateDateTemplates('${date:XXXX}')).to.throw(DefinitionError, /X may repeat at most 3 times/);
    expect(() => validateDateTemplates('${date:}')).to.throw(DefinitionError, /empty/);
    expect(() => validateDateTemplates('${epochMs:s}')).to.throw(DefinitionError, /epochMs/);
    expect(() => validateDateTemplates('since=${ date:yyyy}')).to.throw(DefinitionError, /malformed template/);
    expect(() => validateDateTemplates("'T' and ${gmtDate} and ${epoch:ms}")).not.to.throw();
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
    expect(parseJavaDate('24/11/2026 15:29', 'dd/MM/yyyy HH:mm', 'Asia/Kolkata')?.toISOString()).to.equal('2026-11-24T09:59:00.000Z');
    expect(parseJavaDate('2026-11-24T09:59:00.123Z', "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")?.toISOString()).to.equal('2026-11-24T09:59:00.123Z');
    expect(parseJavaDate('2026-11-24T04:59:00-0500', "yyyy-MM-dd'T'HH:mm:ssZ")?.toISOString()).to.equal('2026-11-24T09:59:00.000Z');
    // A pattern we cannot read (z) or cannot support (G) still leaves the ISO fallback.
    expect(parseJavaDate('2026-11-24T09:59:00Z', 'yyyy-MM-dd HH:mm z')?.toISOString()).to.equal('2026-11-24T09:59:00.000Z');
    expect(parseJavaDate('2026-11-24T09:59:00Z', 'G yyyy')?.toISOString()).to.equal('2026-11-24T09:59:00.000Z');
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

  it('number(): a body value that is the tag alone becomes a JSON number; inside text it renders as digits; not a number is refused', () => {
    const ids = { ...scope, context: { ...scope.context, webhookId: '1000' } };
    expect(renderDeep({ webhookIds: ['<%= number(context.webhookId) %>'] }, ids)).to.deep.equal({ webhookIds: [1000] });
    expect(renderDeep({ note: 'hook <%= number(context.webhookId) %>' }, ids)).to.deep.equal({ note: 'hook 1000' });
    expect(() => renderDeep({ id: '<%= number(context.q) %>' }, scope)).to.throw(/number\(context.q\) is not a number/);
  });

  it('names a missing context value, and renders a missing optional iparam as empty', () => {
    expect(() => renderString('<%= context.ticket.title %>', scope)).to.throw(/missing context value "ticket.title"/);
    expect(renderString('[<%= iparam.optional %>]', scope)).to.equal('[]');
  });

  it('reads own properties only', () => {
    expect(() => renderString('<%= context.constructor.name %>', scope)).to.throw(ValidationError, /missing context value "constructor.name"/);
    expect(renderString('[<%= iparam.toString %>]', scope)).to.equal('[]');
  });

  it('names a missing access token', () => {
    expect(() => renderString('Bearer <%= access_token %>', { iparam: {}, context: {} })).to.throw(ValidationError, /missing access token/);
  });

  it('reports a missing context value as a 400 with its field', () => {
    try {
      renderString('/tickets/<%= context.ticket.id %>', { iparam: {}, context: { ticket: {} } });
      expect.fail('should throw');
    } catch (err) {
      expect(err).to.be.instanceOf(ValidationError);
      expect((err as ValidationError).statusCode).to.equal(400);
      expect((err as ValidationError).message).to.equal('missing context value "ticket.id"');
      expect((err as ValidationError).details).to.deep.equal([{ field: 'context.ticket.id' }]);
    }
  });

  it('lists references, and refuses tags that are not one of the four forms', () => {
    expect(listTemplateRefs('<%=iparam.domain%>/<%= encode( context.user.name ) %>?t=<%= access_token %>')).to.deep.equal([
      { root: 'iparam', path: 'domain', encoded: false },
      { root: 'context', path: 'user.name', encoded: true },
      { root: 'access_token', path: '', encoded: false },
    ]);
    expect(listTemplateRefs('plain text')).to.deep.equal([]);
    expect(() => listTemplateRefs('<%= process.env.HOME %>')).to.throw(DefinitionError, /unsupported template tag/);
    expect(() => listTemplateRefs('<%= require("fs") %>')).to.throw(DefinitionError, /unsupported template tag/);
    expect(() => listTemplateRefs('<%= iparam.a + iparam.b %>')).to.throw(DefinitionError, /unsupported template tag/);
    expect(() => listTemplateRefs('<% if (x) { %>')).to.throw(DefinitionError, /only <%= … %> tags/);
    expect(() => listTemplateRefs('/a/<%= iparam.x')).to.throw(DefinitionError, /only <%= … %> tags/);
  });

  it('refuses a secret in a URL, naming connector, template and field', () => {
    const secrets = new Set(['api_key']);
    expect(() => validateRequestTemplate('fd', 'getTicket', { schema: { path: '/t?key=<%= iparam.api_key %>' } }, secrets)).to.throw(
      /connector "fd", template "getTicket", field "schema.path": secret iparam "api_key"/,
    );
    expect(() => validateRequestTemplate('fd', 'getTicket', { schema: { query: { key: '<%= iparam.api_key %>' } } }, secrets)).to.throw(
      /field "schema.query.key"/,
    );
    expect(() =>
      validateRequestTemplate('fd', 'ok', { schema: { headers: { Authorization: 'Basic <%= encode(iparam.api_key) %>' } } }, secrets),
    ).not.to.throw();
    expect(() => validateRequestTemplate('fd', 'slow', { schema: {}, options: { timeout: 30000 } }, secrets)).to.throw(/options.timeout/);
    expect(() => validateRequestTemplate('fd', 'many', { schema: {}, options: { maxAttempts: 9 } }, secrets)).to.throw(/options.maxAttempts/);
    expect(() => validateRequestTemplate('fd', 'fast', { schema: {}, options: { retryDelay: 5000 } }, secrets)).to.throw(/options.retryDelay/);
    expect(() => validateRequestTemplate('fd', 'host', { schema: { host: '<%= iparam.api_key %>.example.com' } }, secrets)).to.throw(
      /field "schema.host": secret iparam "api_key"/,
    );
    expect(() => validateRequestTemplate('fd', 'verb', { schema: { method: 'TRACE' } }, secrets)).to.throw(/field "schema.method"/);
    expect(() => validateRequestTemplate('fd', 'proto', { schema: { protocol: 'ftp' as never } }, secrets)).to.throw(/field "schema.protocol"/);
    expect(() => validateRequestTemplate('fd', 'tag', { schema: { body: { a: ['<%= eval(1) %>'] } } }, secrets)).to.throw(
      /field "schema.body.a.0": unsupported template tag/,
    );
    expect(() => validateRequestTemplate('fd', 'zero', { schema: {}, options: { maxAttempts: 0 } }, secrets)).to.throw(/options.maxAttempts/);
    expect(() => validateRequestTemplate('fd', 'frac', { schema: {}, options: { maxAttempts: 2.5 } }, secrets)).to.throw(/options.maxAttempts/);
    expect(() => validateRequestTemplate('fd', 'quick', { schema: {}, options: { timeout: 4999 } }, secrets)).to.throw(/options.timeout/);
    const ok = {
      schema: { method: 'post', path: '/hooks', headers: { 'X-Key': '<%= iparam.api_key %>' }, body: { secret: '<%= iparam.api_key %>' } },
      secretsInBody: ['api_key'],
      options: { maxAttempts: 5, retryDelay: 1500, timeout: 10000, isOAuth: false },
    };
    expect(() => validateRequestTemplate('fd', 'ok', ok, secrets)).not.to.throw();
    try {
      validateRequestTemplate('freshdesk', 'createWebhook', { schema: { path: '/x/<%= encode(iparam.api_key) %>' } }, secrets);
      expect.fail('should throw');
    } catch (err) {
      expect(err).to.be.instanceOf(DefinitionError);
      expect((err as Error).message).to.equal(
        'connector "freshdesk", template "createWebhook", field "schema.path": secret iparam "api_key" may not be substituted into a URL; put it in a header',
      );
      expect((err as DefinitionError).details).to.deep.equal([
        { field: '/requests/createWebhook/schema/path', message: 'secret iparam "api_key" may not be substituted into a URL; put it in a header' },
      ]);
    }
  });
});
