import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

/** The bundled catalog as GET /elements shows it: every connector file loaded and valid. */
const CATALOG: Record<string, string[]> = {
  desk: ['incidents', 'contacts'],
  freshdesk: ['incidents', 'contacts'],
  zendesk: ['incidents', 'contacts'],
  hubspot: ['contacts', 'companies', 'deals'],
  intercom: ['contacts', 'conversations'],
  github: ['issues', 'comments'],
  jira: ['issues'],
  'google-calendar': ['events'],
  linear: ['issues'],
  shopify: ['orders', 'customers', 'products'],
  stripe: ['customers', 'invoices', 'charges', 'subscriptions'],
  salesforce: ['accounts', 'contacts', 'opportunities'],
  slack: ['messages'],
};

describe('bundled connectors', () => {
  let t: TestGateway;
  before(async () => {
    t = await startGateway();
  });
  after(async () => {
    await t.close();
  });

  it('GET /elements lists each with its object types, every one accepting base.url', async () => {
    const res = await t.api.get('elements');
    const listed = res.body as unknown as Array<{ key: string; objectTypes: string[]; bundled: boolean; configuration: Array<{ key: string }> }>;
    for (const [key, objectTypes] of Object.entries(CATALOG)) {
      const element = listed.find((e) => e.key === key);
      expect(element, key).to.not.equal(undefined);
      expect(element!.bundled).to.equal(true);
      expect(element!.objectTypes).to.have.members(objectTypes);
      expect(element!.configuration.map((c) => c.key)).to.include('base.url');
    }
  });

  it('each has a doc page linked from the README connectors table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const key of Object.keys(CATALOG)) {
      expect(readme, key).to.include(`| [\`${key}\`](docs/connectors/${key}.md) |`);
      expect(readFileSync(new URL(`../../docs/connectors/${key}.md`, import.meta.url), 'utf8'), key).to.match(/^# /);
    }
  });
});
