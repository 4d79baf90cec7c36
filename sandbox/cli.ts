import { SandboxProvider } from './sandbox.js';

/**
 * `npm run sandbox`: the sandbox provider on 127.0.0.1:SANDBOX_PORT (default 8090), pushing
 * webhooks to subscribers, until Ctrl-C (SIGINT) or SIGTERM.
 */
const raw = process.env.SANDBOX_PORT ?? '8090';
const port = Number(raw);
if (!/^\d+$/.test(raw) || port > 65535) {
  process.stderr.write(`SANDBOX_PORT must be a port number (0–65535), got "${raw}"\n`);
  process.exit(2);
}

let sandbox: SandboxProvider;
try {
  sandbox = await SandboxProvider.start({ port, host: '127.0.0.1' });
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n(set SANDBOX_PORT to use another port)\n`);
  process.exit(1);
}
sandbox.pushWebhooks = true;

const url = sandbox.url;
const key = `-H 'X-Api-Key: any-key'`;
const json = `${key} -H 'Content-Type: application/json'`;
process.stdout.write(`sandbox provider listening on ${url}  (collections: contacts, tickets; any non-empty X-Api-Key)
  list contacts:     curl -s ${url}/contacts ${key}
  changed since:     curl -s '${url}/contacts?updated_since=2026-01-01T00:00:00Z' ${key}
  change a contact:  curl -s -X PATCH ${url}/contacts/1 ${json} -d '{"email": "ada@example.org"}'
  add a ticket:      curl -s -X POST ${url}/tickets ${json} -d '{"subject": "Coffee machine empty", "status": "open"}'
  delete a ticket:   curl -s -X DELETE ${url}/tickets/2 ${key}
Ctrl-C stops it.
`);

let stopping = false;
function stop(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\n${signal}: sandbox provider stopping\n`);
  void sandbox.close().then(() => process.exit(0));
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
