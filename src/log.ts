import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Paths pino blanks in every log line. Secrets are also replaced before values reach a logger
 * (see instances/secrets.ts `redactConfiguration`); this is the second net.
 */
const REDACT_PATHS = [
  'headers.authorization',
  'headers.Authorization',
  'req.headers.authorization',
  '*.password',
  '*.token',
  '*.secret',
  '*.api_key',
  'configuration.*',
];

export function createLogger(options: { level?: string; nodeId?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const base = options.nodeId ? { node: options.nodeId } : {};
  return pino(
    { level: options.level ?? 'info', base, redact: { paths: REDACT_PATHS, censor: '********' } },
    options.destination as pino.DestinationStream | undefined,
  );
}

/** A logger that writes nothing: the default in tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
