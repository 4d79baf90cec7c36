/**
 * One error base class for everything the API answers. A route (or anything it calls) throws an
 * ApiError; the error middleware in api/app.ts turns it into `{code, message, details}` with its
 * status. Anything else that escapes is a 500, logged, and answered without a stack trace.
 */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details: unknown[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }

  toJSON(): { code: string; message: string; details: unknown[] } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export class ValidationError extends ApiError {
  constructor(message: string, details: unknown[] = []) {
    super(400, 'VALIDATION_ERROR', message, details);
  }
}

export class NotFoundError extends ApiError {
  constructor(message: string) {
    super(404, 'NOT_FOUND', message);
  }
}

export class ConflictError extends ApiError {
  constructor(message: string) {
    super(409, 'CONFLICT', message);
  }
}

export class UnauthorizedError extends ApiError {
  constructor(message = 'a valid "Authorization: Bearer <token>" header is required') {
    super(401, 'UNAUTHORIZED', message);
  }
}

export class PayloadTooLargeError extends ApiError {
  constructor(limit: number) {
    super(413, 'PAYLOAD_TOO_LARGE', `the request body is larger than the limit of ${limit} bytes`);
  }
}

export class UnsupportedMediaTypeError extends ApiError {
  constructor(type: string, accepted: string[]) {
    super(415, 'UNSUPPORTED_MEDIA_TYPE', `content type "${type}" is not accepted; use ${accepted.join(', ')}`);
  }
}

export class RateLimitedError extends ApiError {
  constructor(message: string, retryAfterSeconds: number) {
    super(429, 'RATE_LIMITED', message, [], { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) });
  }
}

/**
 * Something this request needs is unavailable for now (the database is unreachable or locked):
 * the request may succeed later. 503 with Retry-After, which providers and clients retry.
 */
export class ServiceUnavailableError extends ApiError {
  constructor(message: string, retryAfterSeconds = 5, code = 'UNAVAILABLE') {
    super(503, code, message, [], { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) });
  }
}

/** A configuration or definition problem found at load time: stops start-up with its message. */
export class DefinitionError extends Error {
  constructor(
    message: string,
    readonly details: unknown[] = [],
  ) {
    super(message);
    this.name = 'DefinitionError';
  }
}
