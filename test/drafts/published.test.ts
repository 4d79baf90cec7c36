import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { expect } from 'chai';
import { validateConnector } from '../../src/connector-sections.js';
import { parseDescriptionText, readDescription } from '../../src/drafts/description.js';
import { type Draft, draftConnector } from '../../src/drafts/draft.js';

type Json = Record<string, unknown>;

/**
 * Drafts from providers' published descriptions (GitHub's from @octokit/openapi; the others vendored
 * in test/drafts/descriptions/ by scripts/openapi-subset.ts with their source and version) compared
 * field by field with the bundled connector's objects. Every field must agree, or be listed below
 * as an expected difference with its reason — and a listed difference must still be one, so the
 * list stays true as the drafter improves.
 */

const FIELDS = [
  'method',
  'path',
  'changeFilter',
  'idField',
  'recordsPath',
  'pagination',
  'cursorPath',
  'cursorParam',
  'updatedDateField',
  'createdDateField',
] as const;
type Field = (typeof FIELDS)[number];

/** A poller object's facts, read the same way from a bundled connector and from a draft. */
function facts(def: Json, objectType: string): Record<Field, unknown> {
  const events = def.events as { poller: Record<string, Json> };
  const poller = events.poller[objectType];
  const resource = (def.resources as Record<string, Json> | undefined)?.[objectType] ?? {};
  const object = { ...resource, ...poller };
  const url = String(poller.url);
  const [rawPath, query = ''] = (url.startsWith('/hubs/') ? String(resource.path) : url).split('?');
  const pagination = (object.pagination ?? {}) as Json;
  const dates = (object.datesConfiguration ?? {}) as Json;
  const filter = [...new URLSearchParams(query)].find(([, v]) => v.includes('${'));
  return {
    method: String(object.method ?? 'GET'),
    // `<%= iparam.github.owner %>` and `<%= iparam.gh.owner %>` are the same path parameter.
    path: rawPath.replace(/<%= iparam\.[\w.-]*?\.?(\w+) %>/g, '{$1}'),
    changeFilter: filter ? `${filter[0]}=${filter[1]}` : object.body ? 'in the body' : undefined,
    idField: object.idField,
    recordsPath: typeof object.recordsPath === 'string' ? object.recordsPath.replace(/\[\*\]$/, '') : undefined,
    pagination: pagination.type,
    cursorPath: pagination.cursorPath,
    cursorParam: pagination.cursorParam,
    updatedDateField: dates.updatedDateField,
    createdDateField: dates.createdDateField,
  };
}

function compare(draft: Draft, drafted: string, bundled: Json, objectType: string, expected: Partial<Record<Field, string>>): void {
  const mine = facts(draft.connector, drafted);
  const theirs = facts(bundled, objectType);
  for (const field of FIELDS) {
    const why = expected[field];
    const label = `${String(bundled.key)} ${objectType}.${field}: drafted ${JSON.stringify(mine[field])}, bundled ${JSON.stringify(theirs[field])}`;
    if (why) expect(mine[field], `${label} — listed as an expected difference (${why}) but they agree now`).not.to.deep.equal(theirs[field]);
    else expect(mine[field], label).to.deep.equal(theirs[field]);
  }
}

const bundled = (key: string) => JSON.parse(readFileSync(new URL(`../../connectors/${key}.json`, import.meta.url), 'utf8')) as Json;
const vendored = (name: string) => readFileSync(new URL(`./descriptions/${name}.json`, import.meta.url), 'utf8');
const draftOf = async (text: string, objects: string[]) => draftConnector(await readDescription(parseDescriptionText(text)), validateConnector, { objects });

describe('connector drafts: published descriptions against the bundled connectors', () => {
  it('GitHub (@octokit/openapi, the full description): issues and comments of a repository', async () => {
    const file = createRequire(import.meta.url).resolve('@octokit/openapi/generated/api.github.com.json');
    const draft = await draftOf(readFileSync(file, 'utf8'), ['/repos/{owner}/{repo}/issues', '/repos/{owner}/{repo}/issues/comments']);
    const github = bundled('github');
    compare(draft, 'repos_issues', github, 'issues', {
      recordsPath: 'the bundled connector drops pull requests ($[?(!@.pull_request)]); the description says so only in prose',
    });
    compare(draft, 'repos_issues_comments', github, 'comments', {});
    // The listing is asked for every state, by update time, oldest first, 100 a page — as the bundled URL does.
    const url = String((draft.connector.events as { poller: Record<string, Json> }).poller.repos_issues.url);
    for (const param of ['state=all', 'sort=updated', 'direction=asc', 'per_page=100']) expect(url).to.contain(param);
    // GitHub's description declares no security schemes: auth stays a named TODO, not a guess.
    expect(draft.connector.auth).to.deep.equal({ type: 'none' });
    expect(draft.report.auth.todo).to.have.length(1);
  });

  it('Stripe (spec3): events, with cursor paging on the last id and has_more', async () => {
    const draft = await draftOf(vendored('stripe'), ['/v1/events', '/v1/customers']);
    compare(draft, 'events', bundled('stripe'), 'customers', {
      changeFilter:
        'Stripe events only have a creation time; the bundled connector knows events never change, no schema says so (the draft lists them all and names the TODO)',
      updatedDateField: 'the bundled connector reads an event\'s "created" as its change date',
      createdDateField: 'the drafter reads "created" as the creation date, which it is',
    });
    const customers = draft.report.objects.find((o) => o.objectType === 'customers');
    expect(customers?.todo.join(' ')).to.match(/"created" filters by creation only/);
    // Stripe declares HTTP basic and bearer: both drafted, the bearer one as the bundled connector has it.
    expect(draft.connector.auth).to.deep.include({ when: 'api.key', type: 'bearer', token: '<%= iparam.api.key %>' });
    expect(draft.connector.auth).to.have.length(2);
  });

  it('Intercom (2.14): conversations listed with their starting_after cursor', async () => {
    const draft = await draftOf(vendored('intercom'), ['/conversations', '/contacts']);
    const intercom = bundled('intercom');
    const search = 'the bundled connector searches (POST /conversations/search, updated_at in the body); the drafter reads GET listings';
    compare(draft, 'conversations', intercom, 'conversations', {
      method: search,
      path: search,
      changeFilter: 'the GET listing has no update filter (the search has)',
      cursorParam: 'the search takes the cursor in the body (pagination.starting_after)',
    });
    const contacts = draft.report.objects.find((o) => o.objectType === 'contacts');
    expect(contacts?.todo.join(' ')).to.match(/next cursor at \$\.pages\.next\.starting_after, but the operation declares no parameter/);
    expect(draft.connector.auth).to.deep.equal({ type: 'bearer', token: '<%= iparam.api.key %>' });
  });

  it('HubSpot CRM (objects v3): the results array and the paging.next.after cursor', async () => {
    const draft = await draftOf(vendored('hubspot'), ['/crm/v3/objects/{objectType}']);
    const hubspot = bundled('hubspot');
    const search = 'the bundled connector searches (POST …/search with a lastmodifieddate filter in the body)';
    compare(draft, 'objects', hubspot, 'contacts', {
      method: search,
      path: 'one drafted object for every object type ({objectType} is a configuration key); the bundled connector has one per type',
      changeFilter: 'the GET listing has no update filter (the search has)',
    });
    const auth = draft.connector.auth as Json;
    expect(auth).to.include({ type: 'oauth2', authorizationUrl: 'https://app.hubspot.com/oauth/authorize', tokenUrl: 'https://api.hubapi.com/oauth/v1/token' });
    expect(auth.scopes).to.be.an('array').that.is.not.empty;
  });

  it('Jira Cloud platform (REST v3): issue search with nextPageToken and isLast', async () => {
    const draft = await draftOf(vendored('jira'), ['/rest/api/3/search/jql']);
    compare(draft, 'issues', bundled('jira'), 'issues', {
      changeFilter: 'the update filter is JQL text in the jql parameter ("updated >= …"), which the report names as a TODO',
      updatedDateField: 'issue fields are free-form in the description (IssueBean.fields); the bundled connector reads fields.updated',
      createdDateField: 'as above (fields.created)',
    });
    expect(draft.report.objects[0].todo.join(' ')).to.match(/"jql" takes a query/);
    const [oauth, basic] = draft.connector.auth as Json[];
    expect(oauth).to.deep.include({
      type: 'oauth2',
      authorizationUrl: 'https://auth.atlassian.com/authorize',
      tokenUrl: 'https://auth.atlassian.com/oauth/token',
      scopes: ['read:jira-work'],
    });
    expect(basic).to.include({ type: 'basic' });
  });
});
