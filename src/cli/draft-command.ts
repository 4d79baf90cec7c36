import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { MAX_DESCRIPTION_BYTES, parseDescriptionText, readDescription } from '../drafts/description.js';
import { validateConnector } from '../connector-sections.js';
import { type DraftOptions, draftConnector } from '../drafts/draft.js';
import { ApiError } from '../errors.js';
import { Outbound } from '../network/outbound.js';
import { CliError, EXIT } from './client.js';
import { jsonText, printJson, printLine } from './output.js';

/** The description's text, from a file or an http(s) URL (the URL is the user's own: any address may be read). */
async function readSource(source: string): Promise<string> {
  if (/^https?:\/\//i.test(source)) {
    // The CLI's own outbound module, closed once the description is read.
    const outbound = new Outbound();
    const answer = await outbound
      .sendOnce(
        { method: 'GET', url: source, headers: { accept: 'application/json, application/yaml;q=0.9, */*;q=0.5' } },
        {
          timeoutMs: 60_000,
          policy: { allowLoopback: true, allowPrivate: true },
          maxResponseBytes: MAX_DESCRIPTION_BYTES,
          pool: 'provider',
          label: 'description URL',
        },
      )
      .finally(() => outbound.close());
    if (answer.status !== 200) throw new CliError(`${source} answered HTTP ${answer.status}`, EXIT.badInput);
    return answer.body;
  }
  return readFile(source, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new CliError(`cannot read ${source}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, EXIT.badInput);
  });
}

/** A description the drafter refuses is bad input: its message, exit code 2. */
async function makeDraft(text: string, options: DraftOptions) {
  try {
    return draftConnector(await readDescription(parseDescriptionText(text)), validateConnector, options);
  } catch (err) {
    if (err instanceof ApiError) {
      const details = err.details.length ? `\n${jsonText(err.details, 2)}` : '';
      throw new CliError(`${err.message}${details}`, EXIT.badInput);
    }
    throw err;
  }
}

/** `pollgate connectors draft <file-or-URL>`: runs offline, no gateway needed. */
export function addDraftCommand(connectors: Command): void {
  connectors
    .command('draft <file-or-url>')
    .description(
      "drafts a connector from a provider's OpenAPI description (OpenAPI 3.0/3.1 or Swagger 2.0, JSON or YAML), with a report of what was inferred and what to decide",
    )
    .option('--objects <list>', 'object names or collection paths to draft, comma-separated (default: every list operation)')
    .option('--key <key>', "the connector's key (default: from the description's title)")
    .option('--out <file>', 'write the connector to this file (the report goes to standard output)')
    .action(async (source: string, o: { objects?: string; key?: string; out?: string }, cmd: Command) => {
      const draft = await makeDraft(await readSource(source), {
        objects: o.objects
          ?.split(',')
          .map((s) => s.trim())
          .filter(Boolean),
        key: o.key,
      });
      if (o.out) await writeFile(o.out, `${jsonText(draft.connector, 2)}\n`);
      if (cmd.optsWithGlobals().json) return printJson(o.out ? { out: o.out, report: draft.report } : draft);
      if (!o.out) printLine(jsonText(draft.connector, 2));
      for (const object of draft.report.objects) {
        printLine(`${object.included ? 'drafted' : 'left out'}  ${object.objectType}  (${object.path})`);
        for (const f of object.findings)
          printLine(
            `  ${f.what}: ${typeof f.value === 'string' ? f.value : JSON.stringify(f.value)}  [${f.confidence}] ${f.from}${f.note ? ` — ${f.note}` : ''}`,
          );
        for (const t of object.todo) printLine(`  TODO ${t}`);
      }
      for (const t of [...draft.report.auth.todo, ...draft.report.todo]) printLine(`TODO ${t}`);
      if (o.out)
        printLine(`wrote ${o.out}: connector "${String(draft.connector.key)}" with ${draft.report.objects.filter((x) => x.included).length} object(s)`);
    });
}
