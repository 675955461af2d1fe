/**
 * Every domain error Hookhub raises carries one of these codes. Libraries throw {@link HookhubError};
 * the one exception filter maps the code to an HTTP status, so no library knows about HTTP.
 */
export enum ErrorCode {
  ValidationFailed = 'validation_failed',
  BadRequest = 'bad_request',
  Unauthenticated = 'unauthenticated',
  InvalidCredentials = 'invalid_credentials',
  Forbidden = 'forbidden',
  NotFound = 'not_found',
  Conflict = 'conflict',
  PayloadTooLarge = 'payload_too_large',
  UnsupportedMediaType = 'unsupported_media_type',
  MethodNotAllowed = 'method_not_allowed',
  RateLimited = 'rate_limited',
  RequestTimeout = 'request_timeout',
  UriTooLong = 'uri_too_long',
  HeadersTooLarge = 'headers_too_large',
  ClientClosed = 'client_closed',
  Unavailable = 'unavailable',
  StoreUnavailable = 'store_unavailable',
  Internal = 'internal_error',
  SignatureMissing = 'signature_missing',
  SignatureInvalid = 'signature_invalid',
  TimestampOutOfWindow = 'timestamp_out_of_window',
  IpNotAllowed = 'ip_not_allowed',
  RunRefused = 'run_refused',
}

export const ERROR_STATUS: Record<ErrorCode, number> = {
  [ErrorCode.ValidationFailed]: 400,
  [ErrorCode.BadRequest]: 400,
  [ErrorCode.Unauthenticated]: 401,
  [ErrorCode.InvalidCredentials]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.MethodNotAllowed]: 405,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.UnsupportedMediaType]: 415,
  [ErrorCode.RateLimited]: 429,
  [ErrorCode.Internal]: 500,
  [ErrorCode.RequestTimeout]: 408,
  [ErrorCode.UriTooLong]: 414,
  [ErrorCode.HeadersTooLarge]: 431,
  // nginx's "client closed request": nobody reads this answer, but the receipt records it.
  [ErrorCode.ClientClosed]: 499,
  [ErrorCode.Unavailable]: 503,
  [ErrorCode.StoreUnavailable]: 503,
  [ErrorCode.SignatureMissing]: 401,
  [ErrorCode.SignatureInvalid]: 401,
  [ErrorCode.TimestampOutOfWindow]: 401,
  [ErrorCode.IpNotAllowed]: 403,
  [ErrorCode.RunRefused]: 400,
};

/** A typed domain error: a stable code, a message for humans, optional structured details. */
export class HookhubError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    /** Extra response headers, e.g. Retry-After for rate limits. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'HookhubError';
  }

  static notFound(what: string, id?: string): HookhubError {
    return new HookhubError(ErrorCode.NotFound, id ? `${what} ${id} not found` : `${what} not found`);
  }

  static conflict(message: string, details?: unknown): HookhubError {
    return new HookhubError(ErrorCode.Conflict, message, details);
  }

  static badRequest(message: string, details?: unknown): HookhubError {
    return new HookhubError(ErrorCode.BadRequest, message, details);
  }

  static forbidden(message = 'You are not allowed to do this'): HookhubError {
    return new HookhubError(ErrorCode.Forbidden, message);
  }

  static unauthenticated(message = 'Authentication required'): HookhubError {
    return new HookhubError(ErrorCode.Unauthenticated, message);
  }
}

/** Seconds a client is asked to wait (Retry-After) when the store does not answer. */
export const STORE_RETRY_AFTER_SECONDS = 5;

/** Postgres SQLSTATEs that mean "the server is not there right now", not "this query is wrong". */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[1-3]|53300)$/;
/** Socket errors of a connection to the store. */
const UNAVAILABLE_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EAI_AGAIN',
]);
/** What the pg driver and its pool say when a connection is gone or cannot be had. */
const UNAVAILABLE_MESSAGE =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|not queryable|Client was closed|Connection is not established|the database system is (shutting down|starting up|in recovery mode)/i;

/**
 * Whether `err` says the store (Postgres) cannot be reached or is restarting, rather than that a statement
 * failed: such errors answer 503 `store_unavailable` with Retry-After, and writes that must not be lost
 * (a task's outcome, a delivery attempt) are retried until the store is back.
 */
export function isStoreUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const x = e as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown };
    if (typeof x.code === 'string' && (UNAVAILABLE_SQLSTATE.test(x.code) || UNAVAILABLE_ERRNO.has(x.code))) return true;
    if (typeof x.message === 'string' && UNAVAILABLE_MESSAGE.test(x.message)) return true;
    e = x.driverError ?? x.cause;
  }
  return false;
}
