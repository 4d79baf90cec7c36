import type { Command } from 'commander';
import { ApiClient, CliError, EXIT, readJsonFile } from './client.js';
import { addDraftCommand } from './draft-command.js';
import { jsonText, printFields, printJson, printLine, printTable, shortDate } from './output.js';

/**
 * The client commands: each is one or two REST calls, printed as a table for people or as the
 * gateway's JSON with --json. Global options (--url, --token, --json) may come before or after
 * the command.
 */
interface Globals {
  url?: string;
  token?: string;
  json?: boolean;
}

// The gateway's JSON answers, read field by field for printing (their shapes are in docs/api.md).
// biome-ignore lint/suspicious/noExplicitAny: printing only reads documented fields
type Json = Record<string, any>;

const globals = (cmd: Command): Globals => cmd.optsWithGlobals() as Globals;
const client = (cmd: Command) => new ApiClient(globals(cmd));
const asJson = (cmd: Command) => Boolean(globals(cmd).json);

/** An instance id argument: a positive integer, or bad input before any request is sent. */
function instanceId(value: string): string {
  if (!/^[1-9]\d*$/.test(value)) throw new CliError(`"${value}" is not an instance id (a positive integer)`, EXIT.badInput);
  return value;
}

export function addClientCommands(program: Command): void {
  addConnectorCommands(program);
  addInstanceCommands(program);
  addPollCommand(program);
  addStatusCommand(program);
  addEventCommands(program);
  addNotificationCommands(program);
}

/** `connectors list | show | validate | add`. */
function addConnectorCommands(program: Command): void {
  const connectors = program
    .command('connectors')
    .description('connectors: list, show, validate a file offline, add a file, draft one from an OpenAPI description');
  addDraftCommand(connectors);
  connectors
    .command('list')
    .description('the connectors the gateway knows')
    .action(async (_o, cmd: Command) => {
      const list = await client(cmd).get<Json[]>('elements');
      if (asJson(cmd)) return printJson(list);
      printTable(
        ['key', 'name', 'hub', 'modes', 'object types', 'bundled'],
        list.map((c) => [c.key, c.name, c.hub, c.eventModes.join(','), c.objectTypes.join(','), c.bundled ? 'yes' : 'no']),
      );
    });
  connectors
    .command('show <key>')
    .description('one connector with its definition')
    .action(async (key: string, _o, cmd: Command) => {
      const c = await client(cmd).get<Json>(`elements/${encodeURIComponent(key)}`);
      if (asJson(cmd)) return printJson(c);
      printFields([
        ['key', c.key],
        ['name', c.name],
        ['hub', c.hub],
        ['event modes', c.eventModes.join(', ')],
        ['object types', c.objectTypes.join(', ')],
        ['bundled', c.bundled ? 'yes' : 'no'],
      ]);
      printTable(
        ['configuration key', 'required', 'secret'],
        c.configuration.map((f: Json) => [f.key, f.required ? 'yes' : 'no', f.secret ? 'yes' : 'no']),
      );
    });
  connectors
    .command('validate <file>')
    .description('checks a connector file without a gateway')
    .action(async (file: string, _o, cmd: Command) => {
      const def = await checkConnectorFile(file);
      if (asJson(cmd)) return printJson({ valid: true, key: def.key, objectTypes: Object.keys(def.events?.poller ?? {}) });
      printLine(`${file}: connector "${def.key}" is valid`);
    });
  connectors
    .command('add <file>')
    .description('registers (or replaces) a custom connector from a file')
    .option('--move-secrets', "replace it even though its instances' stored secrets then go to another host")
    .action(async (file: string, o: { moveSecrets?: boolean }, cmd: Command) => {
      const def = await checkConnectorFile(file);
      const c = await client(cmd).put<Json>(`elements/${encodeURIComponent(def.key)}`, def, { moveSecrets: o.moveSecrets ? 'true' : undefined });
      if (asJson(cmd)) return printJson(c);
      printLine(`connector "${c.key}" registered`);
    });
}

/** `instances list | show | create | pause | resume | delete | check`. */
function addInstanceCommands(program: Command): void {
  const instances = program.command('instances').description('instances: list, show, create, pause, resume, delete, check');
  instances
    .command('list')
    .description('the instances, newest first')
    .action(async (_o, cmd: Command) => {
      const list = await client(cmd).get<Json[]>('instances', { pageSize: 500 });
      if (asJson(cmd)) return printJson(list);
      printTable(
        ['id', 'name', 'connector', 'mode', 'events', 'created'],
        list.map((i) => [i.id, i.name, i.element.key, i.vendorType, i.eventsEnabled ? 'enabled' : 'paused', shortDate(i.createdDate)]),
      );
    });
  instances
    .command('show <instance>')
    .description('one instance (secrets shown as ********)')
    .action(async (id: string, _o, cmd: Command) => {
      const i = await client(cmd).get<Json>(`instances/${instanceId(id)}`);
      if (asJson(cmd)) return printJson(i);
      printInstance(i);
    });
  instances
    .command('create <file>')
    .description('creates an instance from instance JSON in a file')
    .action(async (file: string, _o, cmd: Command) => {
      const body = readJsonFile(file);
      const i = await client(cmd).post<Json>('instances', body);
      if (asJson(cmd)) return printJson(i);
      printLine(`instance ${i.id} created`);
      printInstance(i);
    });
  for (const [name, enabled] of [
    ['pause', false],
    ['resume', true],
  ] as const) {
    instances
      .command(`${name} <instance>`)
      .description(enabled ? 'resumes polling and delivery' : 'stops polling and holds notifications')
      .action(async (id: string, _o, cmd: Command) => {
        const i = await client(cmd).put<Json>(`instances/${instanceId(id)}/events/enabled`, { enabled });
        if (asJson(cmd)) return printJson(i);
        printLine(`instance ${i.id} ${enabled ? 'resumed' : 'paused'}`);
      });
  }
  instances
    .command('delete <instance>')
    .description('deletes an instance (deregisters its provider webhooks)')
    .action(async (id: string, _o, cmd: Command) => {
      await client(cmd).delete(`instances/${instanceId(id)}`);
      if (asJson(cmd)) return printJson({ deleted: Number(id) });
      printLine(`instance ${id} deleted`);
    });

  instances
    .command('check <instance>')
    .description("checks an instance against its provider, read-only: credentials, scopes, each object's first page, webhook, rate limit")
    .action(async (id: string, _o, cmd: Command) => {
      const report = await client(cmd).post<Json>(`instances/${instanceId(id)}/check`);
      const checks = report.checks as Json[];
      if (asJson(cmd)) printJson(report);
      else {
        const width = Math.max(...checks.map((c) => c.name.length));
        // One line per check, whole: the provider's answer is the point of it (white space runs become one space).
        for (const c of checks) printLine(`${c.status.padEnd(7)}  ${c.name.padEnd(width)}  ${String(c.detail).replace(/\s+/g, ' ')}`);
      }
      const failed = checks.filter((c) => c.status === 'failed');
      if (failed.length > 0) throw new CliError(`the check of instance ${id} failed: ${failed.map((c) => c.name).join(', ')}`, EXIT.apiError);
    });
}

/** `poll <instance> [--object <type>]`: exits 1 when an object's poll failed. */
function addPollCommand(program: Command): void {
  program
    .command('poll <instance>')
    .description('polls an instance now')
    .option('--object <type>', 'only this object type')
    .action(async (id: string, o: { object?: string }, cmd: Command) => {
      const answer = await client(cmd).post<{ objects: Record<string, Json> }>(`instances/${instanceId(id)}/events/poll`, undefined, { objectType: o.object });
      if (asJson(cmd)) printJson(answer);
      else
        printTable(
          ['object type', 'fetched', 'created', 'updated', 'deleted', 'error'],
          Object.entries(answer.objects).map(([t, s]) => [t, s.fetched, s.created, s.updated, s.deleted, s.error]),
        );
      const failed = Object.entries(answer.objects).filter(([, s]) => s.error);
      if (failed.length > 0) throw new CliError(`the poll of ${failed.map(([t]) => t).join(', ')} failed: ${failed[0][1].error}`, EXIT.apiError);
    });
}

/** `status <instance>`: the instance's state, then one row per object type. */
function addStatusCommand(program: Command): void {
  program
    .command('status <instance>')
    .description('per object type: last and next poll, lag, failures; notifications; auth')
    .action(async (id: string, _o, cmd: Command) => {
      const s = await client(cmd).get<Json>(`instances/${instanceId(id)}/status`);
      if (asJson(cmd)) return printJson(s);
      printStatus(s);
    });
}

function printStatus(s: Json): void {
  const auth = s.auth ? `${s.auth.type} ${s.auth.state}${s.auth.lastError ? ` (${s.auth.lastError})` : ''}` : undefined;
  printFields([
    ['instance', s.instanceId],
    ['events', s.eventsEnabled ? 'enabled' : 'paused'],
    ['mode', s.vendorType],
    ['notifications', `${s.notifications.pending} pending, ${s.notifications.dead} dead`],
    ...(auth ? [['auth', auth] as [string, string]] : []),
  ]);
  printTable(
    ['object type', 'interval', 'last poll', 'next poll', 'lag', 'failures', 'backoff until', 'last error'],
    Object.entries(s.objects as Record<string, Json>).map(([t, o]) => [
      t,
      `${o.intervalSeconds}s`,
      shortDate(o.lastPollDate),
      shortDate(o.nextPollDate),
      `${o.lagSeconds}s`,
      o.consecutiveFailures,
      shortDate(o.backoffUntil),
      o.lastError,
    ]),
  );
}

/** `events tail <instance> [-n 20] [--follow] [--interval 2]`. */
function addEventCommands(program: Command): void {
  const events = program.command('events').description('events of an instance');
  events
    .command('tail <instance>')
    .description('the latest events, oldest first; --follow keeps printing new ones')
    .option('-n, --lines <n>', 'how many to show first', '20')
    .option('-f, --follow', 'keep polling for new events')
    .option('--interval <seconds>', 'how often --follow asks', '2')
    .action(async (id: string, o: { lines: string; follow?: boolean; interval: string }, cmd: Command) => {
      const lines = Number(o.lines);
      const every = Number(o.interval);
      if (!Number.isInteger(lines) || lines < 1 || lines > 500) throw new CliError('--lines must be an integer from 1 to 500', EXIT.badInput);
      if (!(every > 0)) throw new CliError('--interval must be a positive number of seconds', EXIT.badInput);
      await tailEvents(client(cmd), instanceId(id), { lines, follow: Boolean(o.follow), everyMs: every * 1000, json: asJson(cmd) });
    });
}

/** `notifications list | retry | replay`. */
function addNotificationCommands(program: Command): void {
  const notifications = program.command('notifications').description('deliveries: list, retry, replay');
  notifications
    .command('list <instance>')
    .description('the latest notifications of an instance')
    .option('--status <status>', 'pending, delivered or dead')
    .option('-n, --lines <n>', 'how many', '50')
    .action(async (id: string, o: { status?: string; lines: string }, cmd: Command) => {
      const list = await client(cmd).get<Json[]>(`instances/${instanceId(id)}/notifications`, { status: o.status, pageSize: o.lines });
      if (asJson(cmd)) return printJson(list);
      printTable(
        ['id', 'status', 'object type', 'events', 'attempts', 'last code', 'created', 'delivered', 'last error'],
        list.map((n) => [
          n.id,
          n.status,
          n.objectType,
          n.eventCount,
          n.attemptCount,
          n.lastStatusCode,
          shortDate(n.createdDate),
          shortDate(n.deliveredDate),
          n.lastError,
        ]),
      );
    });
  notifications
    .command('retry <notification>')
    .description('delivers a notification again')
    .action(async (id: string, _o, cmd: Command) => {
      const n = await client(cmd).post<Json>(`notifications/${encodeURIComponent(id)}/retry`);
      if (asJson(cmd)) return printJson(n);
      printLine(`notification ${n.id} queued for delivery`);
    });
  notifications
    .command('replay <instance>')
    .description('delivers again every delivered or dead notification since a time')
    .requiredOption('--since <iso>', 'an ISO 8601 date or date-time, e.g. 2026-11-24T00:00:00Z')
    .action(async (id: string, o: { since: string }, cmd: Command) => {
      const r = await client(cmd).post<{ replayed: number }>(`instances/${instanceId(id)}/notifications/replay`, { since: o.since });
      if (asJson(cmd)) return printJson(r);
      printLine(`${r.replayed} notification(s) queued for delivery again`);
    });
}

async function checkConnectorFile(file: string) {
  const json = readJsonFile(file);
  const { validateConnector } = await import('../connector-sections.js');
  try {
    return validateConnector(json, `file ${file}`);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.badInput);
  }
}

function printInstance(i: Json): void {
  printFields([
    ['id', i.id],
    ['name', i.name],
    ['connector', i.element.key],
    ['mode', i.vendorType],
    ['events', i.eventsEnabled ? 'enabled' : 'paused'],
    ['tags', (i.tags ?? []).join(', ')],
    ...(i.webhookUrl ? [['webhook URL', i.webhookUrl] as [string, string]] : []),
    ['created', shortDate(i.createdDate)],
  ]);
}

async function tailEvents(api: ApiClient, id: string, o: { lines: number; follow: boolean; everyMs: number; json: boolean }): Promise<void> {
  const print = (list: Json[]) => {
    if (o.json && o.follow) for (const e of list) process.stdout.write(`${jsonText(e)}\n`);
    else if (o.json) printJson(list);
    else
      for (const e of list)
        printLine(
          `${shortDate(e.createdDate)}  #${e.sequence}  ${e.eventType.padEnd(7)}  ${e.objectType}/${e.objectId}  ${e.notification ? `${e.notification.id} ${e.notification.status}` : ''}`.replace(
            / +$/,
            '',
          ),
        );
  };
  const first = (await api.get<Json[]>(`instances/${id}/events`, { pageSize: o.lines })).reverse();
  print(first);
  if (!o.follow) return;
  let lastId = first.length ? first[first.length - 1].id : 0;
  let stop = false;
  const quit = () => (stop = true);
  process.once('SIGINT', quit);
  process.once('SIGTERM', quit);
  while (!stop) {
    await new Promise((r) => setTimeout(r, o.everyMs));
    if (stop) break;
    const page = await api.get<Json[]>(`instances/${id}/events`, { pageSize: 500 });
    const fresh = page.filter((e) => e.id > lastId);
    if (fresh.length === page.length && lastId > 0 && page.length === 500)
      process.stderr.write('pollgate: more than 500 new events since the last look; older ones were skipped (use a smaller --interval)\n');
    fresh.reverse();
    if (fresh.length) lastId = fresh[fresh.length - 1].id;
    print(fresh);
  }
}
