import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

/** The bundled webhook-first connectors are listed with their object types, documented and in the README table. */
const EXPECTED: Record<string, string[]> = {
  github: ['issues', 'comments'],
  jira: ['issues'],
  shopify: ['orders', 'customers', 'products'],
  stripe: ['customers', 'invoices', 'charges', 'subscriptions'],
};

describe('bundled connectors: github, jira, shopify, stripe', () => {
  let t: TestGateway;
  before(async () => {
    t = await startGateway();
  });
  after(async () => {
    await t.close();
  });

  it('GET /elements lists each with its object types and event modes', async () => {
    const res = await t.api.get('elements');
    const listed = res.body as unknown as Array<{ key: string; objectTypes: string[]; eventModes: string[] }>;
    for (const [key, objectTypes] of Object.entries(EXPECTED)) {
      const found = listed.find((c) => c.key === key);
      expect(found, key).to.not.equal(undefined);
      expect(found!.objectTypes, key).to.deep.equal(objectTypes);
      expect(found!.eventModes, key).to.deep.equal(['polling', 'webhook']);
    }
  });

  it('each has a doc page linked from the README connectors table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const key of Object.keys(EXPECTED)) {
      expect(readme, key).to.include(`| [\`${key}\`](docs/connectors/${key}.md) |`);
      expect(readFileSync(new URL(`../../docs/connectors/${key}.md`, import.meta.url), 'utf8')).to.match(/^# .*\(`.+`\)/);
    }
  });
});
