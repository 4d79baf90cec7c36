import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { DefinitionError } from '../errors.js';
import { configSchema, type Config } from './schema.js';
import { defaultConfigFile } from './paths.js';

export type { Config } from './schema.js';
export { projectRoot, bundledConnectorsDir } from './paths.js';

type Env = Record<string, string | undefined>;
type Json = Record<string, unknown>;

function readJson(file: string): Json {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Json;
  } catch (err) {
    throw new DefinitionError(`config file ${file} cannot be read: ${(err as Error).message}`);
  }
}

function isPlainObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge where objects merge key by key and anything else (arrays included) replaces. */
export function mergeDeep(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(over)) {
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? mergeDeep(out[key] as Json, value) : value;
  }
  return out;
}

function envOverrides(env: Env): Json {
  const o: Json = {};
  const set = (section: string, key: string, value: unknown) => {
    o[section] = { ...((o[section] as Json) ?? {}), [key]: value };
  };
  if (env.PORT !== undefined) set('server', 'port', /^\d+$/.test(env.PORT) ? Number(env.PORT) : env.PORT);
  if (env.DATABASE_URL) set('database', 'url', env.DATABASE_URL);
  if (env.POLLGATE_DB_SCHEMA) set('database', 'schema', env.POLLGATE_DB_SCHEMA);
  if (env.POLLGATE_DATA_DIR) set('database', 'dataDir', env.POLLGATE_DATA_DIR);
  if (env.POLLGATE_API_TOKEN) set('auth', 'apiToken', env.POLLGATE_API_TOKEN);
  if (env.POLLGATE_SECRET_KEY) set('security', 'secretKey', env.POLLGATE_SECRET_KEY);
  if (env.POLLGATE_PREVIOUS_SECRET_KEYS)
    set(
      'security',
      'previousSecretKeys',
      env.POLLGATE_PREVIOUS_SECRET_KEYS.split(',')
        .map((k) => k.trim())
        .filter(Boolean),
    );
  if (env.POLLGATE_PUBLIC_URL) set('server', 'publicUrl', env.POLLGATE_PUBLIC_URL);
  if (env.POLLGATE_NODE_ID) set('node', 'id', env.POLLGATE_NODE_ID);
  if (env.LOG_LEVEL) set('log', 'level', env.LOG_LEVEL);
  return o;
}

const validateConfig = new Ajv({ allErrors: true, useDefaults: false }).compile(configSchema);

/** Validates a merged settings object; a bad value throws naming the setting. */
export function checkConfig(raw: Json): Config {
  if (!validateConfig(raw)) {
    const details = (validateConfig.errors ?? []).map((e) => {
      const extra = (e.params as { additionalProperty?: string }).additionalProperty;
      const path = [e.instancePath.slice(1).replaceAll('/', '.'), extra].filter(Boolean).join('.');
      return { setting: path || '(root)', message: extra ? 'is not a known setting' : (e.message ?? 'invalid') };
    });
    const first = details[0];
    throw new DefinitionError(`invalid setting "${first.setting}": ${first.message}`, details);
  }
  const config = raw as unknown as Config;
  refuseExposedLoopback(config);
  if (!isAbsolute(config.database.dataDir)) config.database.dataDir = resolve(process.cwd(), config.database.dataDir);
  if (!config.server.publicUrl) config.server.publicUrl = `http://localhost:${config.server.port}`;
  config.server.publicUrl = config.server.publicUrl.replace(/\/+$/, '');
  return config;
}

const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/i;

/**
 * Provider and callback URLs may reach this machine's loopback services while
 * `network.allowLoopback` is on (the default, for one-machine setups): serving other machines in
 * that state would let any token holder read them, so it is refused.
 */
function refuseExposedLoopback(config: Config): void {
  if (config.network.allowLoopback && !LOOPBACK_HOST.test(config.server.host)) {
    throw new DefinitionError(
      `invalid setting "server.host": "${config.server.host}" serves other machines while network.allowLoopback is true; ` +
        'set network.allowLoopback to false to expose the gateway, or keep server.host 127.0.0.1',
      [{ setting: 'server.host', message: 'not a loopback address while network.allowLoopback is true' }],
    );
  }
}

/**
 * config/default.json, then the file named by POLLGATE_CONFIG, then the environment, then
 * `overrides` (tests). Validated once; the result is what every module reads.
 */
export function loadConfig(options: { env?: Env; overrides?: Json } = {}): Config {
  const env = options.env ?? process.env;
  let merged = readJson(defaultConfigFile);
  if (env.POLLGATE_CONFIG) merged = mergeDeep(merged, readJson(resolve(process.cwd(), env.POLLGATE_CONFIG)));
  merged = mergeDeep(merged, envOverrides(env));
  if (options.overrides) merged = mergeDeep(merged, options.overrides);
  return checkConfig(merged);
}
