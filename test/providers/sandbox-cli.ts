import { SandboxProvider } from './sandbox.js';

/** `npm run sandbox`: the sandbox provider on SANDBOX_PORT (default 8090) until Ctrl-C. */
const port = Number(process.env.SANDBOX_PORT ?? 8090);
const sandbox = await SandboxProvider.start({ port, host: '127.0.0.1' });
sandbox.pushWebhooks = true;
process.stdout.write(`sandbox provider listening on ${sandbox.url}
  list contacts:   curl -s ${sandbox.url}/contacts -H 'X-Api-Key: any'
  change one:      curl -s -X PATCH ${sandbox.url}/contacts/1 -H 'X-Api-Key: any' -H 'Content-Type: application/json' -d '{"email": "new@example.com"}'
  add one:         curl -s -X POST ${sandbox.url}/contacts -H 'X-Api-Key: any' -H 'Content-Type: application/json' -d '{"name": "Katherine Johnson"}'
`);
const stop = () => void sandbox.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
