import type Koa from 'koa';
import type Router from '@koa/router';
import { readJsonObject, readRawBody } from '../api/body.js';
import { NotFoundError, UnsupportedMediaTypeError } from '../errors.js';
import type { ConnectContext } from './context.js';
import type { ConnectFlow, PageAnswer } from './flow.js';
import { createSession, describeSession } from './sessions.js';
import type { ConnectStore } from './store.js';

/**
 * API (bearer token): POST /connect/sessions, GET /connect/sessions/:id.
 * Open (the end user's browser): GET and POST /connect/:token, GET /oauth/callback — pages, not
 * JSON. The pages run no script; form posts are accepted only from the gateway's own origin and
 * with the page's CSRF value.
 */
const FORM_LIMIT = 64 * 1024;

/**
 * The gateway's address as the browser sees it: `server.publicUrl`, else the scheme and Host of
 * this request (koa's `ctx.origin` is not used: it can echo the request's Origin header).
 */
const baseOf = (ctx: ConnectContext, koa: Koa.Context): string => (ctx.config.server.publicUrl ?? `${koa.protocol}://${koa.host}`).replace(/\/+$/, '');

function answer(koa: Koa.Context, a: PageAnswer): void {
  // Pages and redirects carry the token's page address: never cached, never sent to another origin
  // as a referrer (same-origin, not no-referrer: that would make the form's Origin header "null").
  koa.set({ 'cache-control': 'no-store', 'referrer-policy': 'same-origin', 'x-content-type-options': 'nosniff' });
  if ('redirect' in a) {
    koa.status = 303;
    koa.set('location', a.redirect);
    return;
  }
  const formAction = a.formOrigins ? `; form-action 'self' ${[...new Set(a.formOrigins.map((o) => new URL(o).origin))].join(' ')}` : '';
  koa.set('content-security-policy', `default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'${formAction}`);
  koa.status = a.status;
  koa.type = 'text/html; charset=utf-8';
  koa.body = a.html;
}

export function connectApiRoutes(ctx: ConnectContext, store: ConnectStore) {
  return (router: Router) => {
    router.post('/connect/sessions', async (koa) => {
      koa.status = 201;
      koa.body = await createSession(ctx, store, await readJsonObject(koa, ctx.config.server.maxBodyBytes), baseOf(ctx, koa));
    });
    router.get('/connect/sessions/:sessionId', async (koa) => {
      const session = await store.byPublicId(koa.params.sessionId);
      if (!session) throw new NotFoundError(`connect session ${koa.params.sessionId} does not exist`);
      koa.body = describeSession(session, ctx.clock.now());
    });
  };
}

const one = (v: unknown): string | undefined => (typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined);

export function connectPageRoutes(ctx: ConnectContext, flow: ConnectFlow) {
  return (router: Router) => {
    router.get('/connect/:token', async (koa) => {
      answer(koa, await flow.open(koa.params.token, one(koa.query.connector), baseOf(ctx, koa)));
    });
    router.post('/connect/:token', async (koa) => {
      const base = baseOf(ctx, koa);
      // A form posted from another site (CSRF) carries that site's Origin: refused before anything is read.
      const origin = koa.get('origin');
      const site = koa.get('sec-fetch-site');
      if ((origin && origin !== new URL(base).origin) || (site && site !== 'same-origin')) {
        answer(koa, await flow.refusedForeignForm());
        return;
      }
      const type = koa.get('content-type');
      if (!/^application\/x-www-form-urlencoded\b/i.test(type)) throw new UnsupportedMediaTypeError(type, ['application/x-www-form-urlencoded']);
      const form = Object.fromEntries(new URLSearchParams((await readRawBody(koa, FORM_LIMIT)).toString('utf8')));
      answer(koa, await flow.submit(koa.params.token, form, base));
    });
    router.get('/oauth/callback', async (koa) => {
      const query = Object.fromEntries(Object.entries(koa.query).map(([k, v]) => [k, one(v)]));
      answer(koa, await flow.callback(query));
    });
  };
}
