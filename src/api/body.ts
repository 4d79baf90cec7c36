import type Koa from 'koa';
import getRawBody from 'raw-body';
import { ApiError, PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError } from '../errors.js';
import { jsonProblem } from './text.js';

/**
 * Reads the request body as bytes with a size limit. Used by the JSON API (below) and by webhook
 * ingress, which needs the exact bytes for signature checks.
 */
export async function readRawBody(ctx: Koa.Context, limit: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limit) throw new PayloadTooLargeError(limit);
  try {
    return await getRawBody(ctx.req, { limit, length: declared || undefined });
  } catch (err) {
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large') throw new PayloadTooLargeError(limit);
    if (type === 'request.size.invalid') throw new ValidationError('the request body is shorter than its Content-Length');
    throw new ApiError(400, 'BAD_REQUEST', `the request body could not be read: ${(err as Error).message}`);
  }
}

/**
 * Parses a JSON API body: 415 for another type, 400 naming the JSON problem (malformed, nested too
 * deeply, a key with control characters or named `__proto__`), 413 when too large.
 */
export async function readJsonBody(ctx: Koa.Context, limit: number): Promise<unknown> {
  const raw = await readRawBody(ctx, limit);
  if (raw.length === 0) return undefined;
  const type = ctx.get('content-type');
  if (type && !/^application\/([\w.+-]*\+)?json\b/i.test(type)) throw new UnsupportedMediaTypeError(type, ['application/json']);
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new ValidationError(`malformed JSON body: ${(err as Error).message}`);
  }
  const problem = jsonProblem(body);
  if (problem) throw new ValidationError(`${problem.field} ${problem.message}`, [problem]);
  return body;
}

/** The body must be a JSON object; answers 400 otherwise. */
export async function readJsonObject(ctx: Koa.Context, limit: number): Promise<Record<string, unknown>> {
  const body = await readJsonBody(ctx, limit);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('the request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}
