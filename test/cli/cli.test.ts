import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { API_TOKEN, startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { SandboxProvider } from '../../sandbox/sandbox.js';
import { Receiver } from '../providers/receiver.js';
import { providerConnector } from '../poller/helpers.js';
import { dispatcher } from '../delivery/helpers.js';
import { runCli, spawnCli, type CliResult } from './run-cli.js';

/**
 * The `pollgate` client commands, run as the built binary against a gateway: every command with
 * --json parsed, the tables people read, and the exit codes of a 4xx (1), a bad file or argument
 * (2) and a refused connection (3), each with a one-line message.
 */
describe('pollgate CLI', function () {
  this.timeout(180_000);
  let t: TestGateway;
  let provider: EmulatedProvider;
  let receiver: Receiver;
  let dir: string;
  let env: Record<string, string>;

  before(async () => {
    t = await startGateway();
    provider = await EmulatedProvider.start();
    provider.now = () => t.clock.now();
    receiver = await Receiver.start();
    dir = mkdtempSync(join(tmpdir(), 'pollgate-cli-'));
    env = { POLLGATE_URL: t.url, POLLGATE_API_TOKEN: API_TOKEN };
  });

  after(async () => {
    await t.close();
    await provider.close();
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const file = (name: string, content: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };
  const ok = async (args: string[]): Promise<CliResult> => {
    const r = await runCli(args, env);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.equal(0);
    return r;
  };
  const json = async <T = any>(args: string[]): Promise<T> => JSON.parse((await ok([...args, '--json'])).stdout) as T;
  const fails = async (args: string[], code: number, message: RegExp, e = env) => {
    const r = await runCli(args, e);
    expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).to.equal(code);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.match(message);
  };

  it('validates connector files offline and adds, lists and shows connectors', async () => {
    const good = file('crm.json', providerConnector('clicrm'));
    // No gateway needed: the URL points nowhere.
    const offline = await runCli(['connectors', 'validate', good], { POLLGATE_URL: 'http://127.0.0.1:9' });
    expect(offline).to.include({ code: 0 });
    expect(offline.stdout).to.match(/connector "clicrm" is valid/);
    await fails(['connectors', 'validate', file('bad.json', '{"key": ')], 2, /bad\.json is not valid JSON/);
    await fails(
      ['connectors', 'validate', file('invalid.json', { key: 'x', name: 'X', bogus: 1 })],
      2,
      /connector "x" from file .*invalid\.json is invalid: .*bogus/,
    );
    await fails(['connectors', 'validate', join(dir, 'missing.json')], 2, /cannot read .*missing\.json: ENOENT/);
    await fails(['connectors', 'add', file('invalid2.json', { key: 'y' })], 2, /is invalid/);

    expect((await json(['connectors', 'add', good])).key).to.equal('clicrm');
    const list = await json<Array<{ key: string; bundled: boolean }>>(['connectors', 'list']);
    expect(list.find((c) => c.key === 'clicrm')).to.include({ bundled: false });
    expect((await json(['connectors', 'show', 'clicrm'])).definition.baseUrl).to.equal('<%= iparam.base_url %>');
    expect((await ok(['connectors', 'list'])).stdout)
      .to.match(/^KEY +NAME +HUB +MODES/m)
      .and.match(/^clicrm +Test clicrm +crm +polling +contacts +no$/m);
    await fails(['connectors', 'show', 'nope'], 1, /GET elements\/nope answered 404 NOT_FOUND: unknown connector "nope"/);
  });

  it('creates, shows, polls, pauses, resumes and deletes instances; tails events; lists, retries and replays notifications', async () => {
    provider.collection('contacts');
    const body = {
      element: { key: 'clicrm' },
      name: 'CLI instance',
      configuration: {
        base_url: provider.url,
        api_key: 'sk-cli',
        'event.poller.refresh_interval': '5',
        'event.notification.callback.url': `${receiver.url}/cb`,
      },
    };
    await fails(
      ['instances', 'create', file('inst-bad.json', { ...body, element: { key: 'nope' } })],
      1,
      /POST instances answered 400 VALIDATION_ERROR: unknown connector "nope"/,
    );
    const created = await json(['instances', 'create', file('inst.json', body)]);
    expect(created).to.include({ name: 'CLI instance', vendorType: 'polling' });
    expect(created.configuration.api_key).to.equal('********');
    const id = String(created.id);
    expect((await json<Array<{ id: number }>>(['instances', 'list'])).map((i) => i.id)).to.include(created.id);
    expect((await json(['instances', 'show', id])).element.key).to.equal('clicrm');
    expect((await ok(['instances', 'list'])).stdout).to.match(new RegExp(`^${id} +CLI instance +clicrm +polling +enabled `, 'm'));

    t.clock.advance(1000);
    provider.collection('contacts').upsert({ name: 'Ada' });
    t.clock.advance(1000);
    const polled = await json(['poll', id]);
    expect(polled.objects.contacts).to.deep.equal({ fetched: 1, created: 1, updated: 0, deleted: 0 });
    expect((await json(['poll', id, '--object', 'contacts'])).objects.contacts.created).to.equal(0);
    await fails(['poll', id, '--object', 'deals'], 1, /answered 404 NOT_FOUND: .*does not poll an object type "deals"/);
    await fails(['poll', 'abc'], 2, /"abc" is not an instance id/);

    const status = await json(['status', id]);
    expect(status.objects.contacts).to.include({ intervalSeconds: 300, consecutiveFailures: 0, fetched: 1 });
    expect((await ok(['status', id])).stdout).to.match(/^contacts +300s +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +/m);

    const events = await json<Array<{ eventType: string; objectType: string }>>(['events', 'tail', id]);
    expect(events.map((e) => [e.eventType, e.objectType])).to.deep.equal([['CREATED', 'contacts']]);
    expect((await ok(['events', 'tail', id])).stdout).to.match(/#1 +CREATED +contacts\/1 /);

    // --follow prints events as they arrive, one JSON object a line, until SIGINT (exit 0).
    const follow = spawnCli(['events', 'tail', id, '--follow', '--interval', '0.1', '--json'], env);
    let out = '';
    follow.stdout!.on('data', (d) => (out += d));
    const followExit = new Promise<number | null>((r) => follow.on('close', r));
    const lines = () => out.split('\n').filter(Boolean);
    await waitFor(() => lines().length >= 1);
    provider.collection('contacts').upsert({ name: 'Grace' });
    t.clock.advance(1000);
    await ok(['poll', id]);
    await waitFor(() => lines().length >= 2);
    follow.kill('SIGINT');
    expect(await followExit).to.equal(0);
    expect(lines().map((l) => JSON.parse(l).sequence)).to.deep.equal([1, 2]);

    const pending = await json<Array<{ id: string; status: string; eventCount: number }>>(['notifications', 'list', id]);
    expect(pending.map((n) => n.status)).to.deep.equal(['pending', 'pending']);
    await dispatcher(t).drain();
    await dispatcher(t).idle();
    const delivered = await json<Array<{ id: string; status: string; attemptCount: number }>>(['notifications', 'list', id, '--status', 'delivered']);
    // The two polling notifications that waited for the same callback went out as one request
    // carrying both events (delivery coalesces what waits, docs/delivery.md).
    expect(delivered.map((n) => [n.status, n.attemptCount])).to.deep.equal([['delivered', 1]]);
    expect((await ok(['notifications', 'list', id])).stdout).to.match(/^ntf_\S+ +delivered +contacts +2 +1 +200 /m);
    await fails(['notifications', 'list', id, '--status', 'lost'], 1, /answered 400 VALIDATION_ERROR: status must be one of/);
    expect((await json(['notifications', 'retry', delivered[0].id])).status).to.equal('pending');
    await fails(['notifications', 'retry', 'ntf_nope'], 1, /answered 404/);
    await dispatcher(t).drain();
    await dispatcher(t).idle();
    expect(await json(['notifications', 'replay', id, '--since', '1970-01-01T00:00:00Z'])).to.deep.equal({ replayed: 1 });
    await fails(['notifications', 'replay', id, '--since', 'yesterday'], 1, /answered 400 VALIDATION_ERROR: since must be/);
    await fails(['notifications', 'replay', id], 2, /required option '--since <iso>' not specified/);

    expect((await json(['instances', 'pause', id])).eventsEnabled).to.equal(false);
    expect((await ok(['instances', 'resume', id])).stdout).to.equal(`instance ${id} resumed\n`);
    // A replacement that sends the instance's secrets elsewhere needs --move-secrets.
    const moved = file('crm-moved.json', providerConnector('clicrm', { baseUrl: 'http://127.0.0.1:9' }));
    await fails(['connectors', 'add', moved], 1, /PUT elements\/clicrm answered 409 SECRETS_WOULD_MOVE: .*moveSecrets=true/);
    expect((await json(['connectors', 'add', moved, '--move-secrets'])).key).to.equal('clicrm');
    expect(await json(['instances', 'delete', id])).to.deep.equal({ deleted: Number(id) });
    await fails(['instances', 'show', id], 1, new RegExp(`GET instances/${id} answered 404 NOT_FOUND`));
  });

  it('escapes the control characters of provider and gateway text: event lines, JSON and one-line errors', async () => {
    // A provider's record id that would clear the screen, set the window title, start a C1 CSI and reverse the text.
    const evil = 'a\u001b[2J\u001b]0;pwned\u0007\u009b31m\u202eb\u007f';
    const raw = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/;
    expect((await t.api.post('elements', { json: providerConnector('cliesc') })).statusCode).to.equal(201);
    const created = await t.api.post('instances', {
      json: { element: { key: 'cliesc' }, configuration: { base_url: provider.url, api_key: 'sk-cli', 'event.poller.refresh_interval': '5' } },
    });
    const id = String((created.body as unknown as { id: number }).id);
    t.clock.advance(1000);
    provider.collection('contacts').upsert({ id: evil, name: 'Mallory' });
    t.clock.advance(1000);
    await ok(['poll', id]);

    const line = (await ok(['events', 'tail', id])).stdout;
    expect(line).to.not.match(raw);
    expect(line).to.include('contacts/a\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\u202eb\\x7f');
    // JSON escapes them too, and reads back as the provider's exact id.
    const asJson = (await ok(['events', 'tail', id, '--json'])).stdout;
    expect(asJson).to.not.match(raw);
    expect(JSON.parse(asJson).map((e: { objectId: string }) => e.objectId)).to.include(evil);

    // An error quoting what was asked for prints it escaped, on one line.
    await fails(['connectors', 'show', 'x\u001b[31my\u009b'], 1, /answered 404 NOT_FOUND: .*x\\x1b\[31my\\x9b/);
    const shown = await runCli(['connectors', 'show', 'x\u001b[31my\u009b'], env);
    expect(shown.stderr).to.not.match(raw);
  });

  it('migrates and rekeys a database (SQLite in a data folder of its own)', async () => {
    const data = join(dir, 'db');
    const local = { POLLGATE_DATA_DIR: data, POLLGATE_SECRET_KEY: 'cli-secret-key-0123456789abcdef0123456789' };
    const migrated = await runCli(['migrate'], local);
    expect(migrated, migrated.stderr).to.include({ code: 0 });
    expect(migrated.stdout).to.match(/^migrated .*pollgate\.db/);
    const rekeyed = await runCli(['rekey'], local);
    expect(rekeyed, rekeyed.stderr).to.include({ code: 0 });
    expect(rekeyed.stdout).to.match(/^rekeyed 0 secrets to key /);
    const refused = await runCli(['migrate'], { ...local, POLLGATE_SECRET_KEY: 'short' });
    expect(refused.code).to.equal(1);
    expect(refused.stderr.trim().split('\n')).to.have.length(1);
  });

  it('checks an instance against its provider: one line per check, exit 1 when one failed, --json', async () => {
    const sandbox = await SandboxProvider.start();
    try {
      const body = { element: { key: 'sandbox' }, configuration: { base_url: sandbox.url, api_key: 'sk-cli-check', 'event.vendor.type': 'polling' } };
      const id = String((await json(['instances', 'create', file('sandbox.json', body)])).id);
      const healthy = (await ok(['instances', 'check', id])).stdout;
      expect(healthy).to.match(/^ok +credentials +accepted: HTTP 200 to GET \/contacts$/m);
      expect(healthy).to.match(/^ok +object:contacts +first page: 3 record\(s\)/m);
      expect(healthy.trim().split('\n')).to.have.length(5);

      sandbox.provider.requireHeader = { name: 'X-Api-Key', value: 'another-key' };
      const refused = await runCli(['instances', 'check', id], env);
      expect(refused.code).to.equal(1);
      expect(refused.stdout).to.match(/^failed +credentials +refused: the provider answered HTTP 401/m);
      expect(refused.stderr.trim()).to.equal(`pollgate: the check of instance ${id} failed: credentials, object:contacts`);
      const asJson = await runCli(['instances', 'check', id, '--json'], env);
      expect(asJson.code).to.equal(1);
      expect(JSON.parse(asJson.stdout)).to.deep.include({ ok: false, status: 'failed' });
      await fails(['instances', 'check', '424242'], 1, /answered 404/);
    } finally {
      await sandbox.close();
    }
  });

  it('exits 3 on a refused connection, 1 on a wrong token, 2 without a token or on a bad command', async () => {
    await fails(['instances', 'list'], 3, /cannot reach the gateway at http:\/\/127\.0\.0\.1:9: ECONNREFUSED/, {
      POLLGATE_URL: 'http://127.0.0.1:9',
      POLLGATE_API_TOKEN: 'x',
    });
    await fails(['instances', 'list', '--url', t.url, '--token', 'wrong'], 1, /answered 401 UNAUTHORIZED/, {});
    await fails(['instances', 'list', '--url', t.url], 2, /no API token/, { POLLGATE_DATA_DIR: dir });
    await fails(['instances', 'frobnicate'], 2, /unknown command 'frobnicate'/);
    await fails(['connectors', 'list', '--url', 'ftp://x'], 2, /--url must be an http\(s\) URL/);
  });
});

async function waitFor(check: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
