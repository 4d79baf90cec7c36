import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { runCli } from './run-cli.js';

describe('pollgate connectors draft', () => {
  it('writes a connector that validates, prints the report, and exits 2 on a bad description', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pollgate-draft-'));
    try {
      const help = await runCli(['connectors', 'draft', '--help']);
      expect(help.stdout)
        .to.match(/--objects <list>/)
        .and.match(/--out <file>/);
      const out = join(dir, 'acme.json');
      const ran = await runCli(['connectors', 'draft', 'test/drafts/acme-tasks.yaml', '--out', out]);
      expect(ran.code, ran.stderr).to.equal(0);
      expect(ran.stdout)
        .to.match(/drafted {2}tasks {2}\(\/projects\/\{project_id\}\/tasks\)/)
        .and.match(/wrote .*acme\.json: connector "acme-tasks" with 2 object/);
      expect(JSON.parse(readFileSync(out, 'utf8')).key).to.equal('acme-tasks');
      const valid = await runCli(['connectors', 'validate', out]);
      expect(valid.code, valid.stderr).to.equal(0);
      const bad = join(dir, 'bad.yaml');
      writeFileSync(bad, 'openapi: 9.9.9\npaths: {}\n');
      const refused = await runCli(['connectors', 'draft', bad]);
      expect(refused.code).to.equal(2);
      expect(refused.stderr).to.match(/unsupported description version "9\.9\.9"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
