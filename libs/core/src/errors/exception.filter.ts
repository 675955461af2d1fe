import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { ERROR_STATUS, ErrorCode, HookhubError, STORE_RETRY_AFTER_SECONDS, isStoreUnavailable } from './error-codes';
import { ErrorBody } from './error-body';

interface Mapped {
  status: number;
  code: string;
  message: string;
  details?: unknown;
  headers?: Record<string, string>;
}

const STATUS_CODE_NAMES: Record<number, ErrorCode> = {
  400: ErrorCode.BadRequest,
  401: ErrorCode.Unauthenticated,
  403: ErrorCode.Forbidden,
  404: ErrorCode.NotFound,
  405: ErrorCode.MethodNotAllowed,
  409: ErrorCode.Conflict,
  413: ErrorCode.PayloadTooLarge,
  415: ErrorCode.UnsupportedMediaType,
  429: ErrorCode.RateLimited,
  503: ErrorCode.Unavailable,
};

/** Fastify's own client errors (body parsing, limits, content types) that must be 4xx, never 500. */
const FASTIFY_CODES: Record<string, { status: number; code: ErrorCode; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: ErrorCode.PayloadTooLarge, message: 'Request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: ErrorCode.UnsupportedMediaType,
    message: 'Unsupported content type',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: ErrorCode.BadRequest,
    message: 'Content-Length does not match the body',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: ErrorCode.BadRequest,
    message: 'Body cannot be empty when Content-Type is application/json',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: ErrorCode.BadRequest, message: 'Malformed JSON body' },
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Maps anything thrown to a status, a stable code, a message and details. Exported for unit tests. */
export function mapException(exception: unknown): Mapped | undefined {
  if (exception instanceof HookhubError) {
    return {
      status: ERROR_STATUS[exception.code],
      code: exception.code,
      message: exception.message,
      details: exception.details,
      headers: exception.headers,
    };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    let message = exception.message;
    let details: unknown;
    let code: string | undefined;
    if (isRecord(response)) {
      if (typeof response.message === 'string') message = response.message;
      if (typeof response.code === 'string') code = response.code;
      if (Array.isArray(response.message)) {
        message = 'Request validation failed';
        details = response.message;
      }
      if (response.details !== undefined) details = response.details;
    }
    if (status === 503)
      return {
        status,
        code: code ?? ErrorCode.Unavailable,
        message,
        details,
        headers: { 'retry-after': String(STORE_RETRY_AFTER_SECONDS) },
      };
    if (status >= 500) return undefined;
    if (status === 404 && /^Cannot (GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)/.test(message)) {
      message = `Route not found: ${message.replace(/^Cannot /, '')}`;
    }
    return { status, code: code ?? STATUS_CODE_NAMES[status] ?? ErrorCode.BadRequest, message, details };
  }
  if (isStoreUnavailable(exception)) {
    return {
      status: 503,
      code: ErrorCode.StoreUnavailable,
      message: 'The store (database) is not answering; try again shortly',
      headers: { 'retry-after': String(STORE_RETRY_AFTER_SECONDS) },
    };
  }
  if (isRecord(exception)) {
    const fastifyCode = typeof exception.code === 'string' ? exception.code : undefined;
    if (fastifyCode && FASTIFY_CODES[fastifyCode]) {
      const known = FASTIFY_CODES[fastifyCode];
      return { status: known.status, code: known.code, message: known.message };
    }
    // Body-parser syntax errors and other client errors carry a 4xx statusCode.
    const statusCode = typeof exception.statusCode === 'number' ? exception.statusCode : undefined;
    if (exception instanceof SyntaxError || (statusCode === 400 && fastifyCode?.startsWith('FST_'))) {
      return { status: 400, code: ErrorCode.BadRequest, message: 'Malformed JSON body' };
    }
    if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) {
      const message =
        typeof exception.message === 'string' ? exception.message : (STATUS_CODES[statusCode] ?? 'Bad request');
      return { status: statusCode, code: STATUS_CODE_NAMES[statusCode] ?? ErrorCode.BadRequest, message };
    }
  }
  return undefined;
}

const logger = new Logger('Errors');
let storeWarnedAt = 0;

/**
 * The error response for anything thrown: `{statusCode, error, code, message, details?, requestId}`, and the
 * headers it needs. Unknown errors become a 500 with an error id; their stack goes to the log only. Used by
 * the exception filter and by the handler of errors Fastify raises before routing (a malformed URL).
 */
export function errorResponse(
  exception: unknown,
  requestId: string,
): { body: ErrorBody; headers?: Record<string, string> } {
  const mapped = mapException(exception);
  if (mapped?.code === ErrorCode.StoreUnavailable && Date.now() - storeWarnedAt > 5000) {
    // One line every few seconds while the store is down, not one per request.
    storeWarnedAt = Date.now();
    logger.warn(
      { requestId },
      `answering 503: the store does not answer (${exception instanceof Error ? exception.message : String(exception)})`,
    );
  }
  if (mapped) {
    return {
      body: {
        statusCode: mapped.status,
        error: STATUS_CODES[mapped.status] ?? 'Error',
        code: mapped.code,
        message: mapped.message,
        ...(mapped.details !== undefined ? { details: mapped.details } : {}),
        requestId,
      },
      headers: mapped.headers,
    };
  }
  const errorId = randomUUID();
  const err = exception instanceof Error ? exception : new Error(String(exception));
  logger.error({ err, errorId, requestId }, `Unhandled error ${errorId}: ${err.message}`);
  return {
    body: {
      statusCode: HttpStatus.INTERNAL_SERVER_ERROR,
      error: 'Internal Server Error',
      code: ErrorCode.Internal,
      message: `An unexpected error occurred; quote error id ${errorId} when reporting it`,
      requestId,
      errorId,
    },
  };
}

/** Sends {@link errorResponse} for `exception` on a Fastify reply (unless something was sent already). */
export function sendError(exception: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { body, headers } = errorResponse(exception, String(request?.id ?? ''));
  if (reply.sent) return;
  if (headers) void reply.headers(headers);
  void reply.status(body.statusCode).header('content-type', 'application/json; charset=utf-8').send(body);
}

/** The one exception filter: every error response is built by {@link errorResponse}. */
@Catch()
export class HookhubExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    sendError(exception, http.getRequest<FastifyRequest>(), http.getResponse<FastifyReply>());
  }
}
