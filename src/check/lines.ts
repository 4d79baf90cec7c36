import type { IncomingHttpHeaders } from 'node:http';
import type { CheckContext } from './context.js';
import type { ConnectorDefinition } from '../connectors/schema.js';
import type { Instance } from '../instances/store.js';
import { authOf } from '../connectors/auth-alternatives.js';
import { compileJsonPath } from '../lib/json-path.js';
import { ProviderError } from '../provider/http-client.js';
import { RateBudgetWait } from '../provider/rate-budget.js';
import { buildTemplateRequest } from '../provider/request-builder.js';
import { webhookUrlOf } from '../api/public-urls.js';
import { registrationsOf } from '../connectors/webhook-registrations.js';
import { NotChecked, worst, type CheckLine, type CheckProbe } from './probe.js';

/** What the check reads of an instance's stored OAuth grant: the scope the provider said it granted. */
export type GrantedScopeOf = (instanceId: number) => Promise<{ scope?: string } | undefined>;

/**
 * Scopes: an OAuth 2.0 grant's scope (as the token answer gave it) against the scopes the
 * connector's auth asks for. A provider that leaves `scope` out of its token answer (allowed when
 * it granted what was asked) cannot be verified: a warning.
 */
export async function scopesLine(connector: ConnectorDefinition, instance: Instance, grantedScopeOf: GrantedScopeOf): Promise<CheckLine> {
  const name = 'scopes';
  const auth = authOf(connector, instance.configuration);
  if (auth?.type !== 'oauth2' && auth?.type !== 'oauth2-client-credentials')
    return { name, status: 'ok', detail: `not applicable: ${auth?.type ?? 'no'} auth grants no OAuth scopes` };
  const required = auth.scopes ?? [];
  if (required.length === 0) return { name, status: 'ok', detail: 'the connector needs no particular scope', details: { required } };
  let granted: string | undefined;
  try {
    granted = (await grantedScopeOf(instance.id))?.scope;
  } catch (err) {
    return { name, status: 'failed', detail: `the stored grant cannot be read: ${(err as Error).message}`, details: { required } };
  }
  if (granted === undefined)
    return {
      name,
      status: 'warning',
      detail: `could not be verified: the provider did not say which scopes it granted (needed: ${required.join(' ')})`,
      details: { required },
    };
  // Space-separated per RFC 6749; GitHub separates with commas.
  const list = granted.split(/[\s,]+/).filter(Boolean);
  const missing = required.filter((s) => !list.includes(s));
  if (missing.length > 0)
    return {
      name,
      status: 'failed',
      detail: `missing ${missing.join(' ')} (granted: ${list.join(' ') || 'none'})`,
      details: { required, granted: list, missing },
    };
  return { name, status: 'ok', detail: `granted ${required.join(' ')}`, details: { required, granted: list } };
}

/**
 * Webhook registrations (webhook mode): each stored registration id is looked up at the provider
 * with the registration's `check` request template — a get of the one subscription (404/410: gone)
 * or, with `checkIdsPath`, a listing whose ids must include it. Without a `check` template a
 * registration cannot be verified: a warning.
 */
export async function webhookLine(ctx: CheckContext, probe: CheckProbe, connector: ConnectorDefinition, instance: Instance): Promise<CheckLine> {
  const name = 'webhook';
  const stored = Object.entries(instance.webhookIds);
  if (stored.length === 0) return { name, status: 'warning', detail: 'cannot be verified: no provider registration id is stored for this instance' };
  const registrations = registrationsOf(connector);
  const results: Array<{ registration: string; webhookId: string; status: CheckLine['status']; detail: string }> = [];
  for (const [registration, webhookId] of stored) {
    const found = registrations.find((r) => r.name === registration);
    const template = found?.check ? connector.requests?.[found.check] : undefined;
    if (!found?.check || !template) {
      results.push({ registration, webhookId, status: 'warning', detail: 'cannot be verified: the connector declares no request to look it up' });
      continue;
    }
    const scope = {
      iparam: instance.configuration,
      context: { ...found.context, registration, webhookId, targetUrl: webhookUrlOf(ctx.config.server.publicUrl, instance.webhookToken) },
    };
    const target = { connector, configuration: instance.configuration, instanceId: instance.id, scope };
    try {
      const { request, options } = buildTemplateRequest({ baseUrl: await ctx.providerCalls.baseUrlOf(target), template, scope });
      const result = await probe.send(target, request, {
        maxAttempts: Math.min(options.maxAttempts, 2),
        retryDelayMs: options.retryDelay,
        timeoutMs: options.timeout,
      });
      const present = found.checkIdsPath === undefined || idsIn(result.response, found.checkIdsPath).includes(webhookId);
      results.push({
        registration,
        webhookId,
        status: present ? 'ok' : 'failed',
        detail: present ? 'present at the provider' : "gone: the provider's listing no longer holds it",
      });
    } catch (err) {
      const gone = err instanceof ProviderError && err.errorSource === 'APP' && (err.status === 404 || err.status === 410);
      const { text } = probe.describe(err);
      const unsure = err instanceof RateBudgetWait || err instanceof NotChecked || (err instanceof ProviderError && err.errorSource === 'PLATFORM');
      results.push({ registration, webhookId, status: unsure ? 'warning' : 'failed', detail: gone ? `gone: ${text}` : text });
    }
  }
  const status = worst(results.map((r) => ({ name, status: r.status, detail: r.detail })));
  const one = results.length === 1 ? results[0] : undefined;
  const detail = one
    ? `registration ${one.webhookId}: ${one.detail}`
    : status === 'ok'
      ? `${results.length} registrations present at the provider`
      : results
          .filter((r) => r.status !== 'ok')
          .map((r) => `${r.registration} (${r.webhookId}): ${r.detail}`)
          .join('; ');
  return { name, status, detail, details: { registrations: results } };
}

function idsIn(response: string, path: string): string[] {
  try {
    return compileJsonPath(path)
      .all(JSON.parse(response))
      .map((v) => String(v));
  } catch {
    return [];
  }
}

const headerOf = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};

/** Below this share of its limit left, headroom is a warning. */
const LOW_HEADROOM = 0.1;

/**
 * Rate-limit headroom: the headers the connector's `rateLimitHeaders` declares, read from the
 * check's last provider answer — `remaining` against `rateLimit.requests`, or a `used/size` bucket.
 */
export function rateLimitLine(connector: ConnectorDefinition, headers: IncomingHttpHeaders | undefined): CheckLine {
  const name = 'rateLimit';
  const declared = connector.rateLimitHeaders;
  const limit = connector.rateLimit?.requests;
  const window = connector.rateLimit?.perSeconds;
  if (!declared?.remaining && !declared?.bucket) {
    return limit
      ? {
          name,
          status: 'ok',
          detail: `the provider reports no headroom; pollgate keeps to ${limit} requests per ${window} s`,
          details: { limit, perSeconds: window },
        }
      : { name, status: 'ok', detail: 'not applicable: the connector declares no rate limit' };
  }
  if (!headers) return { name, status: 'warning', detail: 'cannot be verified: the provider gave no answer to read the headers from' };
  let remaining: number | undefined;
  let size = limit;
  let header = declared.remaining;
  if (declared.bucket) {
    header = declared.bucket;
    const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(\d+)\s*$/.exec(headerOf(headers, declared.bucket) ?? '');
    if (m) {
      size = Number(m[2]);
      remaining = size - Number(m[1]);
    }
  } else {
    const value = Number(headerOf(headers, declared.remaining!) ?? Number.NaN);
    if (Number.isFinite(value)) remaining = value;
  }
  if (remaining === undefined)
    return { name, status: 'warning', detail: `cannot be verified: the provider's answer has no ${header} header`, details: { header } };
  const reset = declared.reset ? headerOf(headers, declared.reset) : undefined;
  const details = { header, remaining, ...(size !== undefined ? { limit: size } : {}), ...(reset !== undefined ? { reset } : {}) };
  const of = size !== undefined ? ` of ${size}` : '';
  if (remaining <= 0) return { name, status: 'warning', detail: `exhausted: 0${of} left; calls wait for the reset${reset ? ` (${reset})` : ''}`, details };
  if (size !== undefined && remaining < size * LOW_HEADROOM) return { name, status: 'warning', detail: `low: ${remaining}${of} left`, details };
  return { name, status: 'ok', detail: `${remaining}${of} left`, details };
}
