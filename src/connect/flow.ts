import type { ConnectContext } from './context.js';
import { ApiError, ValidationError } from '../errors.js';
import type { ConfigurationField, ConnectorDefinition } from '../connectors/schema.js';
import { authAlternatives, authOf, isSet, whenKeys } from '../connectors/auth-alternatives.js';
import { callbackKeys, pickCallbackParams } from '../connectors/callback-params.js';
import { OAUTH_KEYS, SETTING_KEYS, TOKEN_KEYS } from '../connectors/settings-keys.js';
import type { ConnectAuthorization, ConnectNeeds } from './authorization.js';
import type { AuthAlternative } from '../connectors/schema.js';
import type { Problem } from '../instances/settings.js';
import { withKeyAliases } from '../instances/settings.js';
import { validateConfiguration, withConnectorDefaults } from '../instances/validation.js';
import type { Instance } from '../instances/store.js';
import { chooserPage, formPage, messagePage } from './page.js';
import type { ConnectSession, ConnectStore, SessionData } from './store.js';
import { csrfValue, hashToken, newSecretToken, resultSignature, sameValue, TOKEN_PATTERN } from './tokens.js';

/**
 * The connect page's flow: the form (GET), its submission (POST) and the provider's return to
 * GET /oauth/callback. Key-based connectors create the instance on submit; OAuth ones leave for
 * the provider with a single-use `state` (and PKCE) and create it on return. Every end — success,
 * refusal, expiry, replay — is a page or a redirect, never a JSON error in the user's browser.
 */
export type PageAnswer = { status: number; html: string; formOrigins?: string[] } | { redirect: string };

type Mode = 'keys' | 'oauth2' | 'oauth1';

const page = (status: number, title: string, message: string, error?: string): PageAnswer => ({ status, html: messagePage(title, message, { error }) });

const UNKNOWN = page(404, 'This link does not work', 'This connect link is unknown or has already been used. Ask the application for a new one.');

export class ConnectFlow {
  constructor(
    private readonly ctx: ConnectContext,
    private readonly store: ConnectStore,
    private readonly apiToken: string,
    private readonly needs: ConnectNeeds,
  ) {}

  refusedForeignForm(): PageAnswer {
    return page(403, 'This form was not sent from its page', 'The form came from another site; nothing was changed. Open the connect link again.');
  }

  /** A session still usable from its page; otherwise the page that says why. */
  private async usable(token: string): Promise<ConnectSession | PageAnswer> {
    if (!TOKEN_PATTERN.test(token)) return UNKNOWN;
    const session = await this.store.byTokenHash(hashToken(token));
    if (!session) return UNKNOWN;
    if (session.status === 'completed' || session.status === 'failed') return UNKNOWN;
    if (session.expiresAt <= this.ctx.clock.now()) {
      await this.store.finish(session.id, { status: 'failed', error: 'expired' }, this.ctx.clock.now());
      return page(410, 'This link has expired', 'This connect link has expired; nothing was created. Ask the application for a new one.', 'expired');
    }
    return session;
  }

  /** The stored instance a reconnect repairs (its configuration decrypted), or undefined. */
  private async target(session: ConnectSession): Promise<Instance | undefined> {
    return session.instanceId === null ? undefined : this.ctx.instances.store.get(session.instanceId);
  }

  /** The configuration the form completes: the instance's (reconnect) under the app's preset. */
  private async baseConfiguration(session: ConnectSession): Promise<Record<string, unknown>> {
    const instance = await this.target(session);
    return { ...(instance?.configuration ?? {}), ...session.data.configuration };
  }

  async open(token: string, chosen: string | undefined, base: string): Promise<PageAnswer> {
    const session = await this.usable(token);
    if (!('id' in session)) return session;
    const key = chosen ?? (session.elementKeys.length === 1 ? session.elementKeys[0] : undefined);
    if (!key || !session.elementKeys.includes(key)) {
      const list = session.elementKeys.map((k) => ({ key: k, name: this.ctx.connectors.get(k)?.name ?? k }));
      return { status: 200, html: chooserPage(`/connect/${token}`, list) };
    }
    return this.form(session, token, key, await this.baseConfiguration(session), {}, [], base);
  }

  private async form(
    session: ConnectSession,
    token: string,
    key: string,
    configuration: Record<string, unknown>,
    values: Record<string, string>,
    problems: Problem[],
    base: string,
    status = 200,
  ): Promise<PageAnswer> {
    const connector = this.ctx.connectors.get(key);
    if (!connector) return page(404, 'This service is not available', `The connector "${key}" is no longer registered.`);
    const mode = modeOf(connector, configuration);
    const fields = formFields(connector, configuration, mode);
    const shown = new Set(fields.map((f) => f.key));
    const errors: Record<string, string[]> = {};
    const formErrors: string[] = [];
    // A problem of the provider's address ("configuration") is about the one field it is built from, when there is one.
    const addressKeys = [...new Set([...(connector.baseUrl ?? '').matchAll(/iparam\.([\w.]+)/g)].map((m) => m[1]))];
    const addressField = addressKeys.length === 1 ? addressKeys[0] : undefined;
    for (const p of problems) {
      const named = p.field.startsWith('configuration.') ? p.field.slice('configuration.'.length) : p.field;
      const field = named === 'configuration' && addressField && shown.has(addressField) ? addressField : named;
      if (shown.has(field)) (errors[field] ??= []).push(p.message);
      else formErrors.push(`${p.field} ${p.message}`);
    }
    const instance = await this.target(session);
    const html = formPage({
      title: connector.name,
      action: `/connect/${token}`,
      csrf: csrfValue(this.apiToken, token),
      connector: key,
      fields,
      values,
      errors,
      formErrors,
      submitLabel: mode === 'keys' ? 'Connect' : `Connect with ${connector.name}`,
      intro: instance
        ? `Reconnect "${instance.name}": grant access again to resume its events.`
        : mode === 'keys'
          ? 'Enter the details of your account.'
          : `You will be sent to ${connector.name} to grant access, then brought back.`,
    });
    // Where the form's post may end: here, the app's success and error URLs, and for OAuth 2.0 the
    // provider's authorize page. When that address is not known yet (OAuth 1.0a's comes with the
    // request token; a template may need a typed value) the page sets no form-action list.
    const authorizePage = mode === 'oauth2' ? this.needs.authorization.authorizePage(connector, configuration) : undefined;
    const known = mode === 'keys' || authorizePage !== undefined;
    const destinations = [session.successUrl, session.errorUrl, authorizePage].filter((u): u is string => typeof u === 'string');
    return { status, html, formOrigins: known ? [base, ...destinations] : undefined };
  }

  async submit(token: string, form: Record<string, string>, base: string): Promise<PageAnswer> {
    const session = await this.usable(token);
    if (!('id' in session)) return session;
    if (typeof form.csrf !== 'string' || !sameValue(form.csrf, csrfValue(this.apiToken, token)))
      return page(403, 'This form was not sent from its page', 'The form did not come from this connect page; nothing was changed. Open the link again.');
    const key = form.connector;
    const connector = key && session.elementKeys.includes(key) ? this.ctx.connectors.get(key) : undefined;
    if (!connector) return page(400, 'Choose a service', 'The form named no service of this connect link; open the link again.');
    const preset = await this.baseConfiguration(session);
    const fields = formFields(connector, preset, modeOf(connector, preset));
    // Only the shown fields are taken from the browser: the app's preset cannot be overridden.
    const entered: Record<string, unknown> = {};
    const values: Record<string, string> = {};
    for (const f of fields) {
      const v = typeof form[f.key] === 'string' ? form[f.key].trim() : '';
      if (v === '') continue;
      values[f.key] = v;
      entered[f.key] = f.type === 'number' && Number.isFinite(Number(v)) ? Number(v) : f.type === 'boolean' ? v === 'true' : v;
    }
    const configuration = { ...preset, ...entered };
    const mode = modeOf(connector, configuration);
    const data: SessionData = { ...session.data, elementKey: connector.key, entered };
    if (mode === 'keys') {
      // One submission at a time: a double click must not make two instances.
      if (!(await this.store.hold(session.id, this.ctx.clock.now())))
        return page(409, 'This link is being used', 'This connect link is already being completed; wait for that page, or open the link again.');
      try {
        const instance =
          session.instanceId !== null
            ? await this.ctx.instances.update(session.instanceId, { configuration: { ...session.data.configuration, ...entered } })
            : await this.ctx.instances.create({ element: { key: connector.key }, name: session.data.name, tags: session.data.tags, configuration });
        return this.succeed(session, instance);
      } catch (err) {
        if (err instanceof ValidationError) {
          await this.store.release(session.id, this.ctx.clock.now());
          return this.form(session, token, connector.key, preset, values, err.details as Problem[], base, 400);
        }
        if (err instanceof ApiError) return this.fail(session, err.code, err.message);
        await this.store.release(session.id, this.ctx.clock.now());
        throw err;
      }
    }
    // OAuth: the same validation the API runs, before the user leaves for the provider.
    const callbackUrl = mode === 'oauth2' ? `${base}/oauth/callback` : undefined;
    // The keys the provider's redirect fills (Intuit's realmId) are not known yet: checked as given.
    const fromRedirect = Object.fromEntries([...callbackKeys(connector)].filter((k) => !isSet(configuration[k])).map((k) => [k, 'from-the-redirect']));
    const complete = withConnectorDefaults(
      connector,
      withKeyAliases({ ...configuration, ...fromRedirect, ...(callbackUrl ? { [OAUTH_KEYS.callbackUrl]: callbackUrl } : {}) }, []),
    );
    const problems: Problem[] = [];
    validateConfiguration(connector, complete, this.ctx.config, problems);
    const placeholder = mode === 'oauth2' ? { code: 'pending' } : { oauth_token: 'pending', oauth_verifier: 'pending', secret: 'pending' };
    this.ctx.instances.authorizer?.check(connector, complete, placeholder, problems, undefined);
    if (problems.length > 0) return this.form(session, token, connector.key, preset, values, problems, base, 400);
    const state = newSecretToken();
    const now = this.ctx.clock.now();
    const authType = authOf(connector, complete)?.type;
    if (authType === 'oauth2') {
      const start = await this.needs.authorization.startOAuth2(connector, complete, state);
      if (start.kind !== 'redirect') throw new Error('unreachable');
      data.entered = { ...entered, [OAUTH_KEYS.callbackUrl]: callbackUrl };
      data.codeVerifier = start.codeVerifier;
      if (!(await this.store.beginAuthorization(session.id, hashToken(state), data, now))) return UNKNOWN;
      return { redirect: start.url };
    }
    if (authType !== 'oauth1') throw new Error('unreachable');
    // OAuth 1.0a: a request token first; the provider sends the browser back with it and a verifier.
    let start: Awaited<ReturnType<ConnectAuthorization['startOAuth1']>>;
    try {
      start = await this.needs.authorization.startOAuth1(connector, complete, `${base}/oauth/callback?state=${state}`);
    } catch (err) {
      return this.fail(session, 'request_token_failed', `the request-token call failed: ${(err as Error).message}`);
    }
    if (start.kind === 'refused') return this.fail(session, 'request_token_refused', `the provider refused the request-token call: HTTP ${start.status}`);
    data.requestSecret = start.requestSecret;
    if (!(await this.store.beginAuthorization(session.id, hashToken(state), data, now))) return UNKNOWN;
    return { redirect: start.url };
  }

  /** GET /oauth/callback: the provider's redirect, tied to its session by the single-use state. */
  async callback(query: Record<string, string | undefined>): Promise<PageAnswer> {
    const state = query.state;
    if (!state || state.length > 200)
      return page(
        400,
        'This authorization cannot be used',
        'The provider sent the browser back without a state: it cannot be tied to a connect session. Nothing was created.',
        'missing_state',
      );
    const session = await this.store.takeState(hashToken(state), this.ctx.clock.now());
    if (!session)
      return page(
        400,
        'This authorization cannot be used',
        'This authorization was not started here, or it was already used. Nothing was created; open the connect link again.',
        'unknown_state',
      );
    if (session.expiresAt <= this.ctx.clock.now()) return this.fail(session, 'expired', 'the connect session expired while the user was at the provider');
    if (query.error) return this.fail(session, query.error, query.error_description ?? 'the provider refused the authorization');
    const key = session.data.elementKey!;
    const reconnect = session.instanceId !== null;
    const connector = this.ctx.connectors.get(key);
    // The redirect's own values the connector keeps (Intuit's realmId) go on with the code.
    const providerData = query.oauth_verifier
      ? { oauth_token: query.oauth_token, oauth_verifier: query.oauth_verifier, secret: session.data.requestSecret }
      : { code: query.code, code_verifier: session.data.codeVerifier, ...(connector ? pickCallbackParams(connector, query) : {}) };
    if (!query.oauth_verifier && !query.code) return this.fail(session, 'invalid_request', 'the provider sent neither a code nor an error');
    const entered = session.data.entered ?? {};
    try {
      const instance = reconnect
        ? await this.ctx.instances.update(session.instanceId!, { configuration: { ...session.data.configuration, ...entered }, providerData })
        : await this.ctx.instances.create({
            element: { key },
            name: session.data.name,
            tags: session.data.tags,
            configuration: { ...session.data.configuration, ...entered },
            providerData,
          });
      return this.succeed(session, instance);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      const detail = (err.details[0] ?? {}) as { error?: string };
      return this.fail(session, detail.error ?? err.code, err.message);
    }
  }

  /** The instance is connected: events for the app, then the browser to the success URL, signed. */
  private async succeed(session: ConnectSession, instance: Instance): Promise<PageAnswer> {
    const now = this.ctx.clock.now();
    const reconnect = session.instanceId !== null;
    if (!(await this.store.finish(session.id, { status: 'completed', instanceId: instance.id }, now))) return UNKNOWN;
    if (reconnect) await this.needs.pollAllNow(instance.id, now);
    this.ctx.instances.invalidate(instance.id);
    await this.event(session, instance, reconnect ? 'RECONNECTED' : 'CONNECTED');
    this.ctx.log.info({ session: session.publicId, instanceId: instance.id, reconnect }, 'connect session completed');
    const url = new URL(session.successUrl);
    url.searchParams.set('instance_id', String(instance.id));
    url.searchParams.set('session', session.publicId);
    url.searchParams.set('signature', resultSignature(this.apiToken, instance.id, session.publicId));
    return { redirect: url.toString() };
  }

  /**
   * Nothing is created: the app hears of it by CONNECT_FAILED — a reconnect's through its instance,
   * a first connect's bound to the session (no instance exists) — and the browser goes to the error
   * URL or an error page.
   */
  private async fail(session: ConnectSession, error: string, description: string): Promise<PageAnswer> {
    await this.recordFailure(session, error, description);
    if (session.errorUrl) {
      const url = new URL(session.errorUrl);
      url.searchParams.set('error', error);
      url.searchParams.set('error_description', description);
      url.searchParams.set('session', session.publicId);
      return { redirect: url.toString() };
    }
    return page(400, 'The account was not connected', `${description}. Nothing was created.`, error);
  }

  /**
   * A session that expired before the user finished (left the page, or never came back from the
   * provider): failed with `expired`, and CONNECT_FAILED delivered as for any failure — once, even
   * with several nodes looking (the expiry loop, expiry.ts).
   */
  async expire(session: ConnectSession): Promise<boolean> {
    return this.recordFailure(session, 'expired', 'the connect session expired before the user finished connecting');
  }

  /** The session failed: recorded once, and CONNECT_FAILED for the app. False when it was already finished. */
  private async recordFailure(session: ConnectSession, error: string, description: string): Promise<boolean> {
    const now = this.ctx.clock.now();
    const finished = await this.store.finish(session.id, { status: 'failed', error: `${error}: ${description}` }, now);
    // Only the request (or node) that finished it tells the app.
    if (finished) {
      const instance = await this.target(session);
      if (instance) await this.event(session, instance, 'CONNECT_FAILED', { error, description });
      else await this.sessionEvent(session, { error, description });
      this.ctx.log.info({ session: session.publicId, error }, 'connect session failed');
    }
    return finished;
  }

  private async event(session: ConnectSession, instance: Instance, eventType: string, error?: { error: string; description: string }): Promise<void> {
    const settings = this.ctx.instances.settingsOf(instance);
    if (!settings.notificationsEnabled) return;
    const now = this.ctx.clock.now();
    const date = new Date(now).toISOString();
    // One notification on the instance's normal delivery path (signed, retried), the dispatcher woken for it.
    await this.ctx.stores.events.enqueueNotification({
      instanceId: instance.id,
      source: 'connect',
      objectType: 'connection',
      eventCount: 1,
      now,
      payload: {
        instanceId: instance.id,
        instanceName: instance.name,
        elementKey: instance.elementKey,
        eventDate: date,
        events: [{ eventType, objectType: 'connection', objectId: String(instance.id), elementKey: instance.elementKey, date }],
        connect: { session: session.publicId, endUser: session.endUser, tags: session.data.tags, ...(error ? { error } : {}) },
      },
    });
    this.ctx.wakeUps.notify('delivery');
  }

  /**
   * CONNECT_FAILED of a first connect: no instance exists, so the notification is bound to the
   * session and goes out through the outbox like any other (leased, retried on the same schedule)
   * to the preset callback URL, signed with the session's signing secret. Nothing without a preset
   * callback URL.
   */
  private async sessionEvent(session: ConnectSession, error: { error: string; description: string }): Promise<void> {
    const configuration = session.data.configuration;
    if (typeof configuration[SETTING_KEYS.url] !== 'string' || !session.data.signingSecret) return;
    const now = this.ctx.clock.now();
    const date = new Date(now).toISOString();
    const elementKey = session.data.elementKey ?? (session.elementKeys.length === 1 ? session.elementKeys[0] : null);
    await this.ctx.stores.events.enqueueNotification({
      instanceId: null,
      connectSessionId: session.id,
      source: 'connect',
      objectType: 'connection',
      eventCount: 1,
      now,
      payload: {
        instanceId: null,
        instanceName: session.data.name ?? null,
        elementKey,
        eventDate: date,
        events: [{ eventType: 'CONNECT_FAILED', objectType: 'connection', objectId: session.publicId, elementKey, date }],
        connect: { session: session.publicId, endUser: session.endUser, tags: session.data.tags, error },
      },
    });
    this.ctx.wakeUps.notify('delivery');
  }
}

/** OAuth when the configuration picks a user-granted OAuth alternative, keys otherwise. */
function modeOf(connector: ConnectorDefinition, configuration: Record<string, unknown>): Mode {
  const auth = authOf(connector, configuration);
  return auth?.type === 'oauth2' ? 'oauth2' : auth?.type === 'oauth1' ? 'oauth1' : 'keys';
}

/**
 * The fields the end user fills: the connector's configuration keys the app did not preset, less
 * the app's own (OAuth client, tokens), generated ones, and in OAuth mode the keys that would pick
 * another auth alternative, and those the provider's redirect or a webhook registration fills.
 */
function formFields(connector: ConnectorDefinition, preset: Record<string, unknown>, mode: Mode): ConfigurationField[] {
  const appKeys = new Set<string>([...Object.values(OAUTH_KEYS), ...TOKEN_KEYS]);
  const otherAuthKeys = new Set<string>();
  if (mode !== 'keys') {
    for (const alt of authAlternatives(connector) as AuthAlternative[]) if (alt.type !== mode) for (const k of whenKeys(alt)) otherAuthKeys.add(k);
  }
  // In OAuth 2.0 mode the provider's redirect fills some keys (Intuit's realmId), and a webhook
  // registration's answer others (Airtable's webhook id and MAC secret): not asked for.
  const filled = new Set([...(mode === 'oauth2' ? callbackKeys(connector) : []), ...Object.keys(connector.events?.webhook?.saveFromResponse ?? {})]);
  const set = (v: unknown) => v !== undefined && v !== null && v !== '';
  return (connector.configuration ?? []).filter(
    (f) => !set(preset[f.key]) && !appKeys.has(f.key) && !f.generate && !otherAuthKeys.has(f.key) && !filled.has(f.key) && f.key !== 'base.url',
  );
}
