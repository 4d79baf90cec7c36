import type Router from '@koa/router';
import { readRawBody } from '../api/body.js';
import { ApiError, ValidationError } from '../errors.js';
import { MAX_DESCRIPTION_BYTES, parseDescriptionText, readDescription } from './description.js';
import { type ConnectorValidator, draftConnector } from './draft.js';

const ACCEPTED = /^(application\/(json|yaml|x-yaml|openapi\+json|openapi\+yaml|vnd\.oai\.openapi(\+json)?)|text\/(yaml|x-yaml|plain))\b/i;

/**
 * POST /connectors/draft: a provider's OpenAPI description in (JSON or YAML, up to 32 MB), a
 * connector draft and its report out. It stores nothing. One draft runs at a time per node: a large
 * description takes a few hundred MB while it is read, so a second one waits its turn (429).
 */
export function draftRoutes(validate: ConnectorValidator) {
  let running = false;
  return (router: Router) => {
    router.post('/connectors/draft', async (ctx) => {
      const type = ctx.get('content-type');
      if (type && !ACCEPTED.test(type)) {
        throw new ApiError(
          415,
          'UNSUPPORTED_MEDIA_TYPE',
          `content type "${type}" is not accepted; send the description as application/json or application/yaml`,
        );
      }
      const objects =
        typeof ctx.query.objects === 'string'
          ? ctx.query.objects
              .split(',')
              .map((o) => o.trim())
              .filter(Boolean)
          : undefined;
      const key = typeof ctx.query.key === 'string' ? ctx.query.key : undefined;
      if (key !== undefined && !/^[a-z0-9][a-z0-9_-]{0,63}$/.test(key)) {
        throw new ValidationError('key must be 1–64 lower-case letters, digits, "-" or "_"', [{ field: 'key', value: key }]);
      }
      if (running) throw new ApiError(429, 'DRAFT_IN_PROGRESS', 'another draft is being made on this node; try again in a moment', [], { 'Retry-After': '1' });
      running = true;
      try {
        const raw = await readRawBody(ctx, MAX_DESCRIPTION_BYTES);
        if (raw.length === 0) throw new ValidationError('the request body must hold an OpenAPI description (JSON or YAML)');
        const description = await readDescription(parseDescriptionText(raw.toString('utf8')));
        ctx.body = draftConnector(description, validate, { objects, key });
      } finally {
        running = false;
      }
    });
  };
}
