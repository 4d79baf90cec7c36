import type { ConnectContext } from './context.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { Problem } from '../instances/settings.js';
import { throwIfProblems } from '../instances/settings.js';
import { nameProblem, readTags } from '../instances/validation.js';
import type { ConnectSession, ConnectStore } from './store.js';
import { hashToken, newSecretToken, newSessionId } from './tokens.js';
import { newSigningSecret } from '../lib/signing-secret.js';

/**
 * POST /connect/sessions: what an app asks for when one of its end users should connect an
 * account. The answer's `token` is the only secret of the session (the page's URL holds it); it is
 * stored hashed. Success and error URLs must be on an allowed origin (`connect.allowedRedirectOrigins`
 * or the gateway's own), so a session cannot send a browser anywhere else.
 */
export interface SessionAnswer {
  id: string;
  token: string;
  url: string;
  expiresAt: string;
  /**
   * Signs the events bound to this session rather than to an instance: CONNECT_FAILED of a first
   * connect (no instance exists). Given once, here.
   */
  signingSecret: string;
}

const MAX_MINUTES = 24 * 60;

/** The origins a session may redirect to: the allow-list and the gateway's own origin. */
export function allowedOrigins(ctx: ConnectContext, base: string): Set<string> {
  return new Set([...ctx.config.connect.allowedRedirectOrigins.map((o) => new URL(o).origin), new URL(base).origin]);
}

function redirectUrl(value: unknown, field: string, allowed: Set<string>, problems: Problem[], required: boolean): string | null {
  if (value === undefined || value === null) {
    if (required) problems.push({ field, message: 'is required: where the browser goes when the account is connected' });
    return null;
  }
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    problems.push({ field, message: 'must be an http or https URL' });
    return null;
  }
  if (!allowed.has(url.origin)) {
    problems.push({ field, message: `its origin ${url.origin} is not in connect.allowedRedirectOrigins` });
    return null;
  }
  return url.toString();
}

export async function createSession(ctx: ConnectContext, store: ConnectStore, body: Record<string, unknown>, base: string): Promise<SessionAnswer> {
  const problems: Problem[] = [];
  const now = ctx.clock.now();
  let elementKeys: string[] = [];
  let instanceId: number | null = null;
  const instanceRef = body.instance as { id?: unknown } | undefined;
  if (instanceRef !== undefined) {
    const id = typeof instanceRef === 'object' && instanceRef !== null ? instanceRef.id : undefined;
    if (typeof id !== 'number' || !Number.isInteger(id)) throw new ValidationError('instance.id must be an instance id', [{ field: 'instance.id' }]);
    const instance = await ctx.instances.store.get(id);
    if (!instance) throw new NotFoundError(`instance ${id} does not exist`);
    instanceId = id;
    elementKeys = [instance.elementKey];
  } else {
    const one = body.connector;
    const many = body.connectors;
    if (typeof one === 'string' && one !== '') elementKeys = [one];
    else if (Array.isArray(many) && many.length > 0 && many.every((k) => typeof k === 'string' && k !== '')) elementKeys = [...new Set(many as string[])];
    else
      problems.push({
        field: 'connector',
        message: 'is required: a connector key (or "connectors": a list the end user chooses from, or "instance": {"id"} to reconnect)',
      });
    for (const key of elementKeys) if (!ctx.connectors.get(key)) problems.push({ field: 'connector', message: `unknown connector "${key}"` });
  }
  if (body.name !== undefined) {
    const refused = nameProblem(body.name);
    if (refused) problems.push({ field: 'name', message: refused });
  }
  const tags = body.tags === undefined ? [] : readTags(body.tags, problems);
  const configuration = body.configuration ?? {};
  if (typeof configuration !== 'object' || configuration === null || Array.isArray(configuration))
    problems.push({ field: 'configuration', message: 'must be an object' });
  const endUser = body.endUser;
  if (endUser !== undefined && (typeof endUser !== 'string' || endUser.length > 255))
    problems.push({ field: 'endUser', message: 'must be a string of at most 255 characters' });
  const allowed = allowedOrigins(ctx, base);
  const successUrl = redirectUrl(body.successUrl, 'successUrl', allowed, problems, true);
  const errorUrl = redirectUrl(body.errorUrl, 'errorUrl', allowed, problems, false);
  const minutes = body.expiresInMinutes ?? ctx.config.connect.sessionMinutes;
  if (typeof minutes !== 'number' || !(minutes > 0) || minutes > MAX_MINUTES)
    problems.push({ field: 'expiresInMinutes', message: `must be a number of minutes above 0 and at most ${MAX_MINUTES}` });
  throwIfProblems(problems, 'the connect session');

  const token = newSecretToken();
  const signingSecret = newSigningSecret();
  const publicId = newSessionId();
  const expiresAt = now + Math.round((minutes as number) * 60_000);
  await store.insert({
    publicId,
    tokenHash: hashToken(token),
    elementKeys,
    instanceId,
    endUser: (endUser as string | undefined) ?? null,
    successUrl: successUrl!,
    errorUrl,
    data: { name: body.name as string | undefined, tags, configuration: configuration as Record<string, unknown>, signingSecret },
    expiresAt,
    createdAt: now,
  });
  ctx.log.info({ session: publicId, elementKeys, instanceId }, 'connect session created');
  return { id: publicId, token, url: `${base}/connect/${token}`, expiresAt: new Date(expiresAt).toISOString(), signingSecret };
}

/** GET /connect/sessions/:id: where a session stands (never its token or configuration). */
export function describeSession(s: ConnectSession, now: number): Record<string, unknown> {
  const expired = s.expiresAt <= now && s.status !== 'completed' && s.status !== 'failed';
  return {
    id: s.publicId,
    status: expired ? 'expired' : s.status,
    connectors: s.elementKeys,
    ...(s.instanceId !== null ? { reconnect: { instanceId: s.instanceId } } : {}),
    instanceId: s.resultInstanceId,
    endUser: s.endUser,
    error: s.error,
    expiresAt: new Date(s.expiresAt).toISOString(),
    createdAt: new Date(s.createdAt).toISOString(),
  };
}
