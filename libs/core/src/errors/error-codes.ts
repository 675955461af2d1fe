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
  Unavailable = 'unavailable',
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
  [ErrorCode.Unavailable]: 503,
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
