import { createHash, timingSafeEqual } from 'node:crypto';
import type Koa from 'koa';
import { UnauthorizedError } from '../errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** `Authorization: Bearer <token>`, compared in constant time (hashing first evens the lengths). */
export function requireBearer(token: string): Koa.Middleware {
  const expected = digest(token);
  return async (ctx, next) => {
    const header = ctx.get('authorization');
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match || !timingSafeEqual(digest(match[1].trim()), expected)) throw new UnauthorizedError();
    await next();
  };
}
