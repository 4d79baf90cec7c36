import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshdesk } from '../../test/helpers/connectors.js';
import { ConflictError, DefinitionError, ValidationError } from '../errors.js';
import { ConnectorRegistry } from './registry.js';
import { parseCeqlWhere, resolvePollerObject } from './resolve.js';
import type { ConnectorDefinition } from './schema.js';
import { connectorSections, validateConnector } from '../connector-sections.js';

describe('connector registry', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pollgate-connectors-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads a directory; require, has, list and summary', async () => {
    await writeFile(join(dir, 'freshdesk.json'), JSON.stringify(freshdesk()));
    await writeFile(join(dir, 'notes.txt'), 'not a connector');
    const registry = await ConnectorRegistry.loadDirectory(dir, connectorSections);
    expect(registry.list().map((d) => d.key)).to.deep.equal(['freshdesk']);
    expect(registry.has('freshdesk')).to.equal(true);
    expect(registry.require('freshdesk').name).to.equal('Freshdesk');
    expect(registry.summary(registry.require('freshdesk'))).to.deep.equal({
      key: 'freshdesk',
      name: 'Freshdesk',
      hub: 'helpdesk',
      eventModes: ['polling', 'webhook'],
      objectTypes: ['incidents', 'contacts'],
      configuration: [
        { key: 'domain', required: true, secret: false },
        { key: 'api_key', required: true, secret: true },
        { key: 'webhook_secret', required: false, secret: true },
      ],
      bundled: true,
    });
    expect(() => registry.require('zendesk'))
      .to.throw(ValidationError, 'unknown connector "zendesk"')
      .with.property('statusCode', 400);
  });

  it('refuses a directory with an invalid file, naming the file and the field', async () => {
    const bad = freshdesk();
    bad.key = 'bad';
    bad.events.poller.incidents.url = "/hubs/helpdesk/incidents?where=updated_at>'${date:yyyy-MM-dd G}'";
    await writeFile(join(dir, 'a-good.json'), JSON.stringify(freshdesk()));
    await writeFile(join(dir, 'bad.json'), JSON.stringify(bad));
    const err = await ConnectorRegistry.loadDirectory(dir, connectorSections).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(DefinitionError);
    expect((err as Error).message).to.include(`connector "bad" from file ${join(dir, 'bad.json')} is invalid: /events/poller/incidents/url: `);
    expect((err as Error).message).to.include('the letter "G" is not supported');
  });

  it('refuses a file that is not JSON, and a key defined by two files', async () => {
    await writeFile(join(dir, 'broken.json'), '{"key": ');
    expect(
      await ConnectorRegistry.loadDirectory(dir, connectorSections).then(
        () => '',
        (e: Error) => e.message,
      ),
    ).to.match(/broken\.json is not valid JSON/);
    await rm(join(dir, 'broken.json'));
    await writeFile(join(dir, 'one.json'), JSON.stringify(freshdesk()));
    await writeFile(join(dir, 'two.json'), JSON.stringify(freshdesk()));
    expect(
      await ConnectorRegistry.loadDirectory(dir, connectorSections).then(
        () => '',
        (e: Error) => e.message,
      ),
    ).to.match(/two\.json: key "freshdesk" is already defined by one\.json/);
  });

  it('registers custom connectors, refuses to replace a bundled one, and re-adds stored ones', async () => {
    await writeFile(join(dir, 'freshdesk.json'), JSON.stringify(freshdesk()));
    const registry = await ConnectorRegistry.loadDirectory(dir, connectorSections);
    expect(() => registry.register(freshdesk(), { source: 'request body' })).to.throw(ConflictError, /bundled/);
    const custom = { ...freshdesk(), key: 'desk2', name: 'Desk 2' };
    expect(registry.register(custom, { source: 'request body' }).key).to.equal('desk2');
    expect(registry.summary(registry.require('desk2')).bundled).to.equal(false);
    expect(() => registry.register({ key: 'x' }, { source: 'request body' })).to.throw(
      DefinitionError,
      /connector "x" from request body is invalid: \/name: is required/,
    );
    // A stored connector whose key a bundled file now uses: the file wins, no conflict at start.
    expect(registry.add({ ...freshdesk(), name: 'Stored' }).name).to.equal('Freshdesk');
    expect(registry.add({ ...custom, name: 'Desk 2b' }).name).to.equal('Desk 2b');
  });

  it('starts empty from a directory that does not exist', async () => {
    expect((await ConnectorRegistry.loadDirectory(join(dir, 'missing'), connectorSections)).list()).to.deep.equal([]);
  });
});

describe('CEQL where', () => {
  it('parses clauses joined by and, in any case', () => {
    expect(parseCeqlWhere("updated_at>'2026-01-01' AND status = 2 and archived=false And name != 'O''Brien and co'")).to.deep.equal([
      { field: 'updated_at', op: '>', value: '2026-01-01' },
      { field: 'status', op: '=', value: '2' },
      { field: 'archived', op: '=', value: 'false' },
      { field: 'name', op: '!=', value: "O'Brien and co" },
    ]);
    expect(parseCeqlWhere('a>=1 and b<=-2.5 and c<TRUE and d.e>0')).to.deep.equal([
      { field: 'a', op: '>=', value: '1' },
      { field: 'b', op: '<=', value: '-2.5' },
      { field: 'c', op: '<', value: 'true' },
      { field: 'd.e', op: '>', value: '0' },
    ]);
  });

  it('keeps date templates, quotes and all, inside values', () => {
    expect(parseCeqlWhere("updated_at>='${date:yyyy-MM-dd'T'HH:mm:ss'Z'}' and created_at<'${epoch:s}'")).to.deep.equal([
      { field: 'updated_at', op: '>=', value: "${date:yyyy-MM-dd'T'HH:mm:ss'Z'}" },
      { field: 'created_at', op: '<', value: '${epoch:s}' },
    ]);
  });

  for (const bad of ['updated_at > bare', "updated_at ~ '1'", "a='1' or b='2'", "a='unterminated", '', "a='1' and"]) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      expect(() => parseCeqlWhere(bad)).to.throw(DefinitionError, /is not of the form field op 'value'/);
    });
  }
});

describe('poller object resolution', () => {
  const def = () => validateConnector(freshdesk(), 'test') as ConnectorDefinition;

  it('resolves a /hubs URL through the resource and its where map', () => {
    const r = resolvePollerObject(def(), 'incidents', {
      url: "/hubs/helpdesk/incidents?where=updated_at>'${date:yyyy-MM-dd'T'HH:mm:ssXXX}' and status='open'&pageSize=200",
      idField: 'id',
    });
    expect(r).to.deep.equal({
      method: 'GET',
      path: '/tickets',
      query: { updated_since: "${date:yyyy-MM-dd'T'HH:mm:ssXXX}", status: 'open' },
      headers: undefined,
      body: undefined,
      idField: 'id',
      recordsPath: '$[*]',
      pagination: { type: 'page', pageParam: 'page', sizeParam: 'per_page', size: 100 },
      deletes: false,
      datesConfiguration: undefined,
    });
  });

  it("lets the poller object's own settings win over the resource's", () => {
    const r = resolvePollerObject(def(), 'incidents', {
      url: '/hubs/helpdesk/incidents',
      idField: 'ref.id',
      method: 'post',
      body: { since: '${epoch:ms}' },
      headers: { 'X-A': '1' },
      recordsPath: '$.results',
      pagination: { type: 'cursor', cursorPath: '$.next', cursorParam: 'after' },
      deletes: true,
      datesConfiguration: { updatedDateField: 'u' },
    });
    expect(r).to.include({ method: 'POST', path: '/tickets', idField: 'ref.id', recordsPath: '$.results', deletes: true });
    expect(r.query).to.deep.equal({});
    expect(r.body).to.deep.equal({ since: '${epoch:ms}' });
    expect(r.pagination).to.deep.equal({ type: 'cursor', cursorPath: '$.next', cursorParam: 'after' });
    expect(r.datesConfiguration).to.deep.equal({ updatedDateField: 'u' });
  });

  it('sends any other URL as a provider path with its own query, settings from the resource of the same name', () => {
    const r = resolvePollerObject(def(), 'contacts', { url: '/v2/contacts?since=${gmtDate:yyyy-MM-dd}&tz=+01:00&flag', idField: 'id' });
    expect(r.path).to.equal('/v2/contacts');
    expect(r.query).to.deep.equal({ since: '${gmtDate:yyyy-MM-dd}', tz: '+01:00', flag: '' });
    expect(r).to.include({ deletes: true });
    expect(r.pagination).to.deep.equal({ type: 'link' });
    expect(resolvePollerObject(def(), 'agents', { url: '/agents', idField: 'id' })).to.include({ path: '/agents', deletes: false, recordsPath: undefined });
  });

  it("re-expresses a date value with the where mapping's format", () => {
    const d = freshdesk();
    d.resources.incidents.where = { 'updated_at>': { param: 'since', format: 'epoch:s' }, 'created_at>': { param: 'created', format: 'yyyy/MM/dd' } };
    const connector = validateConnector(d, 'test');
    const r = resolvePollerObject(connector, 'incidents', {
      url: "/hubs/helpdesk/incidents?where=updated_at>'${date:yyyy-MM-dd}' and created_at>'2026-11-24T09:59:00Z'",
      idField: 'id',
    });
    expect(r.query).to.deep.equal({ since: '${epoch:s}', created: '2026/11/24' });
    const r2 = resolvePollerObject(connector, 'incidents', { url: "/hubs/helpdesk/incidents?where=created_at>'${date:yyyy-MM-dd'T'HH:mm}'", idField: 'id' });
    expect(r2.query).to.deep.equal({ created: '${date:yyyy/MM/dd}' });
    expect(() => resolvePollerObject(connector, 'incidents', { url: "/hubs/helpdesk/incidents?where=created_at>'soon'", idField: 'id' })).to.throw(
      DefinitionError,
      /"soon" is not a date/,
    );
  });

  it('refuses a missing url or idField, naming the object', () => {
    expect(() => resolvePollerObject(def(), 'incidents', { idField: 'id' })).to.throw(DefinitionError, 'object "incidents": url is required');
    expect(() => resolvePollerObject(def(), 'incidents', { url: '/x' })).to.throw(DefinitionError, 'object "incidents": idField is required');
  });
});
