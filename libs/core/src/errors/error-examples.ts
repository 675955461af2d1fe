import { STATUS_CODES } from 'node:http';
import {
  ApiResponse,
  getSchemaPath,
  type OpenAPIObject,
  type OperationObject,
  type PathItemObject,
  type ResponseObject,
} from '@nestjs/swagger';
import { ErrorBody } from './error-body';
import { ERROR_STATUS, ErrorCode, STORE_RETRY_AFTER_SECONDS } from './error-codes';

/** What an example error body may say instead of its status's default. */
export interface ErrorExampleOptions {
  code?: ErrorCode;
  message?: string;
  details?: unknown;
}

interface StatusDefaults {
  code: ErrorCode;
  message: string;
  details?: unknown;
  /** The response description when a decorator left it empty. */
  description: string;
}

const EXAMPLE_REQUEST_ID = '0f0c3e5e-3c1f-4a51-9d5e-7f7b3c1a9e20';
const EXAMPLE_ERROR_ID = 'b1d2c3f4-5a6b-4c7d-8e9f-0a1b2c3d4e5f';

/** The example error body of each status the API answers with, as the exception filter builds it. */
const STATUS_DEFAULTS: Record<number, StatusDefaults> = {
  400: {
    code: ErrorCode.ValidationFailed,
    message: 'Request validation failed',
    details: [{ field: 'name', errors: ['name must be a string', 'name should not be empty'] }],
    description: 'Invalid input; `details` lists the problems per field',
  },
  401: {
    code: ErrorCode.Unauthenticated,
    message: 'Authentication required: send Authorization: Bearer <token or API key>, or X-API-Key',
    description: 'Missing, invalid or expired credentials',
  },
  403: {
    code: ErrorCode.Forbidden,
    message: 'This needs the admin role; you have viewer',
    description: 'The caller lacks the role or scope this needs',
  },
  404: {
    code: ErrorCode.NotFound,
    message: 'User 7c9e6679-7425-40de-944b-e07fc1f90ae7 not found',
    description: 'Not found',
  },
  405: {
    code: ErrorCode.MethodNotAllowed,
    message: 'Method GET is not allowed; use POST',
    description: 'Method not allowed (see Allow)',
  },
  408: {
    code: ErrorCode.RequestTimeout,
    message: 'The request was not received in time',
    description: 'The request was not received in time',
  },
  409: {
    code: ErrorCode.Conflict,
    message: 'A user named "alice" already exists',
    description: 'Conflicts with the current state',
  },
  413: {
    code: ErrorCode.PayloadTooLarge,
    message: 'The body is larger than 1048576 bytes',
    description: 'The body is over the limit',
  },
  415: {
    code: ErrorCode.UnsupportedMediaType,
    message: 'The admin API accepts application/json bodies only',
    description: 'The body is not JSON',
  },
  429: {
    code: ErrorCode.RateLimited,
    message: 'Over the limit of 6000 API requests in 60 seconds; try again later',
    details: { retry_after_seconds: 60 },
    description: 'Over the rate limit; see Retry-After',
  },
  431: {
    code: ErrorCode.HeadersTooLarge,
    message: 'The request headers are larger than the server accepts',
    description: 'The request headers are too large',
  },
  500: {
    code: ErrorCode.Internal,
    message: `An unexpected error occurred; quote error id ${EXAMPLE_ERROR_ID} when reporting it`,
    description: 'An unexpected error; its errorId is in the log',
  },
  503: {
    code: ErrorCode.StoreUnavailable,
    message: 'The store (database) is not answering; try again shortly',
    description: 'The database does not answer; retry after Retry-After seconds',
  },
};

/** The Retry-After header of a 429 (the rest of the limiter's window) or a 503 (the store's retry delay). */
const retryAfter = (status: number) => ({
  description: 'Seconds to wait before trying again',
  schema: { type: 'integer', example: status === 503 ? STORE_RETRY_AFTER_SECONDS : 60 },
});

/**
 * An example error body for `status`: its default code and message (see STATUS_DEFAULTS), or the ones given.
 * A code that another status answers with is a mistake in the caller and throws.
 */
export function errorExample(status: number, options: ErrorExampleOptions = {}): ErrorBody {
  if (options.code && ERROR_STATUS[options.code] !== status) {
    throw new Error(`Error code ${options.code} is answered with ${ERROR_STATUS[options.code]}, not ${status}`);
  }
  const defaults = STATUS_DEFAULTS[status];
  const code = options.code ?? defaults?.code ?? (status >= 500 ? ErrorCode.Internal : ErrorCode.BadRequest);
  // The default details go with the default code and message only.
  const details =
    options.details ?? (options.code === undefined && options.message === undefined ? defaults?.details : undefined);
  return {
    statusCode: status,
    error: STATUS_CODES[status] ?? 'Error',
    code,
    message: options.message ?? defaults?.message ?? STATUS_CODES[status] ?? 'Error',
    ...(details !== undefined ? { details } : {}),
    requestId: EXAMPLE_REQUEST_ID,
    ...(code === ErrorCode.Internal ? { errorId: EXAMPLE_ERROR_ID } : {}),
  };
}

/**
 * Documents an error response whose example differs from its status's default, e.g. login's 401
 * `invalid_credentials`. Errors without one need no example: {@link documentErrorResponses} adds it.
 * (Not named `Api...Response`: the Swagger CLI plugin takes such a decorator for a success response and would
 * drop the 200/201 it infers from the handler's return type.)
 */
export function ApiErrorExample(
  status: number,
  options: ErrorExampleOptions & { description?: string } = {},
): MethodDecorator & ClassDecorator {
  const { description, ...example } = options;
  return ApiResponse({
    status,
    description: description ?? STATUS_DEFAULTS[status]?.description,
    type: ErrorBody,
    example: errorExample(status, example),
  });
}

export interface ErrorResponsesOptions {
  /** Whether an operation reads or writes the store, and so may answer 503 `store_unavailable`. */
  storeBacked?: (path: string, method: string) => boolean;
  /** Whether an operation is rate limited, and so may answer 429 `rate_limited`. */
  throttled?: (path: string, method: string) => boolean;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isExampleOf(value: unknown, status: number): boolean {
  return isRecord(value) && value.statusCode === status && typeof value.code === 'string';
}

/** One error response as JSON `ErrorBody` with an example of its own status (an example it has already is kept). */
function describeError(status: number, response: ResponseObject): void {
  const content = response.content ?? {};
  // Error bodies are JSON whatever the operation answers otherwise: Nest files them under the operation's
  // @ApiProduces type (YAML for the config export).
  const media = content['application/json'] ?? Object.values(content)[0] ?? {};
  const examples = media.examples && Object.values(media.examples);
  const keepExamples = examples?.length && examples.every((e) => isRecord(e) && isExampleOf(e.value, status));
  response.content = {
    'application/json': {
      schema: media.schema ?? { $ref: getSchemaPath(ErrorBody) },
      ...(keepExamples
        ? { examples: media.examples }
        : { example: isExampleOf(media.example, status) ? media.example : errorExample(status) }),
    },
  };
  response.description ||= STATUS_DEFAULTS[status]?.description ?? STATUS_CODES[status] ?? 'Error';
  if ((status === 429 || status === 503) && !response.headers?.['Retry-After'])
    response.headers = { ...response.headers, 'Retry-After': retryAfter(status) };
}

function completeOperation(operation: OperationObject, storeBacked: boolean, throttled: boolean): void {
  const responses = operation.responses;
  // The global guard answers 401 and 403 on every endpoint that needs credentials.
  if (operation.security?.some((requirement) => Object.keys(requirement).length > 0)) {
    responses['401'] ??= { description: STATUS_DEFAULTS[401].description };
    responses['403'] ??= { description: STATUS_DEFAULTS[403].description };
  }
  if (throttled) responses['429'] ??= { description: STATUS_DEFAULTS[429].description };
  if (storeBacked) responses['503'] ??= { description: STATUS_DEFAULTS[503].description };
  for (const [key, response] of Object.entries(responses)) {
    if (!response || '$ref' in response) continue;
    const status = Number(key);
    if (status === 204) {
      response.description ||= 'No content';
      delete response.content;
    } else if (status >= 400) {
      describeError(status, response);
    }
  }
}

/**
 * Completes the error responses of a generated OpenAPI document: each gets an `ErrorBody` example of its own
 * status (the schema's property examples are a 400's), secured operations get 401 and 403, throttled ones 429
 * `rate_limited` and store-backed ones 503 `store_unavailable` (both with Retry-After), and every 204 says
 * "No content" without a body.
 */
export function documentErrorResponses(document: OpenAPIObject, options: ErrorResponsesOptions = {}): void {
  for (const [path, item] of Object.entries(document.paths) as Array<[string, PathItemObject]>) {
    for (const method of METHODS) {
      const operation = item[method];
      if (operation)
        completeOperation(
          operation,
          options.storeBacked?.(path, method) ?? false,
          options.throttled?.(path, method) ?? false,
        );
    }
  }
}
