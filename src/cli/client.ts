import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import got, { RequestError, type Got, type Method } from 'got';

/**
 * The REST client behind the CLI's client commands. Every failure becomes a CliError with a
 * one-line message and an exit code: 1 when the gateway answered an error, 2 for bad input
 * (a file, an argument), 3 when the gateway cannot be reached.
 */
export const EXIT = { apiError: 1, badInput: 2, unreachable: 3 } as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  url?: string;
  token?: string;
}

export const DEFAULT_URL = 'http://localhost:8080';

/**
 * The token: --token, else POLLGATE_API_TOKEN, else the one a local gateway generated in its data
 * folder (POLLGATE_DATA_DIR, default data/).
 */
export function resolveToken(given: string | undefined): string {
  if (given) return given;
  if (process.env.POLLGATE_API_TOKEN) return process.env.POLLGATE_API_TOKEN;
  const file = join(process.env.POLLGATE_DATA_DIR ?? 'data', 'api-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  throw new CliError('no API token: give --token or set POLLGATE_API_TOKEN', EXIT.badInput);
}

export class ApiClient {
  private readonly http: Got;
  readonly baseUrl: string;

  constructor(o: ClientOptions) {
    this.baseUrl = (o.url ?? DEFAULT_URL).replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]+/i.test(this.baseUrl)) throw new CliError(`--url must be an http(s) URL, not "${this.baseUrl}"`, EXIT.badInput);
    this.http = got.extend({
      prefixUrl: `${this.baseUrl}/elements/api-v2`,
      headers: { authorization: `Bearer ${resolveToken(o.token)}` },
      throwHttpErrors: false,
      retry: { limit: 0 },
      timeout: { request: 60_000 },
    });
  }

  get<T = unknown>(path: string, query?: Record<string, string | number | undefined>): Promise<T> {
    return this.send<T>('GET', path, { query });
  }
  post<T = unknown>(path: string, json?: unknown, query?: Record<string, string | number | undefined>): Promise<T> {
    return this.send<T>('POST', path, { json, query });
  }
  put<T = unknown>(path: string, json?: unknown, query?: Record<string, string | number | undefined>): Promise<T> {
    return this.send<T>('PUT', path, { json, query });
  }
  delete<T = unknown>(path: string): Promise<T> {
    return this.send<T>('DELETE', path, {});
  }

  private async send<T>(method: Method, path: string, o: { json?: unknown; query?: Record<string, string | number | undefined> }): Promise<T> {
    const searchParams = Object.fromEntries(Object.entries(o.query ?? {}).filter(([, v]) => v !== undefined)) as Record<string, string | number>;
    let res: { statusCode: number; body: string };
    try {
      res = await this.http(path, { method, searchParams, ...(o.json !== undefined ? { json: o.json } : {}) });
    } catch (err) {
      const code = err instanceof RequestError ? err.code : undefined;
      throw new CliError(`cannot reach the gateway at ${this.baseUrl}: ${code ?? (err as Error).message}`, EXIT.unreachable);
    }
    const text = res.body;
    let body: unknown;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    if (res.statusCode >= 400) {
      const e = body as { code?: string; message?: string } | undefined;
      const what = typeof e === 'object' && e?.message ? `${e.code ?? 'ERROR'}: ${e.message}` : String(text).slice(0, 200);
      throw new CliError(`${method} ${path} answered ${res.statusCode} ${what}`.replace(/\s+/g, ' '), EXIT.apiError);
    }
    return body as T;
  }
}

/** Reads a JSON file given on the command line; a missing or malformed file is bad input. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, EXIT.badInput);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`${file} is not valid JSON: ${(err as Error).message}`, EXIT.badInput);
  }
}
