import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { type ErrorBody, ErrorCode } from '@hookhub/core';

const logger = new Logger('HTTP');

/** Node's parser errors, as the answer they get. */
const PARSER_ERRORS: Record<string, { status: number; code: ErrorCode; message: string }> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    code: ErrorCode.HeadersTooLarge,
    message: 'The request headers are larger than the server accepts',
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    code: ErrorCode.RequestTimeout,
    message: 'The request was not received in time',
  },
  ERR_HTTP_HEADERS_TIMEOUT: {
    status: 408,
    code: ErrorCode.RequestTimeout,
    message: 'The request headers were not received in time',
  },
  HPE_UNEXPECTED_CONTENT_LENGTH: {
    status: 400,
    code: ErrorCode.BadRequest,
    message: 'Content-Length and Transfer-Encoding cannot be sent together',
  },
  HPE_INVALID_HEADER_TOKEN: {
    status: 400,
    code: ErrorCode.BadRequest,
    message: 'A header name or value has characters HTTP does not allow',
  },
  HPE_INVALID_TRANSFER_ENCODING: {
    status: 400,
    code: ErrorCode.BadRequest,
    message: 'The Transfer-Encoding is not valid',
  },
  HPE_INVALID_CONTENT_LENGTH: { status: 400, code: ErrorCode.BadRequest, message: 'The Content-Length is not valid' },
};

/**
 * Fastify's `clientErrorHandler`: a request Node's HTTP parser refuses before any route sees it (headers
 * too large, bytes HTTP does not allow, Content-Length with Transfer-Encoding, a timeout) gets the API's
 * error body, with a `code` and a `requestId`, and one info line in the log; then the connection closes.
 */
export function handleClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const known = err.code ? PARSER_ERRORS[err.code] : undefined;
  const mapped = known ?? {
    status: 400,
    code: ErrorCode.BadRequest,
    message: `The request is not valid HTTP (${err.code ?? err.message})`,
  };
  const requestId = randomUUID();
  const body: ErrorBody = {
    statusCode: mapped.status,
    error: STATUS_CODES[mapped.status] ?? 'Error',
    code: mapped.code,
    message: mapped.message,
    requestId,
  };
  const payload = JSON.stringify(body);
  logger.log({
    msg: 'refused a request the HTTP parser could not read',
    parserCode: err.code,
    status: mapped.status,
    requestId,
    remoteAddress: socket.remoteAddress,
  });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${mapped.status} ${body.error}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n` +
        `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${payload}`,
    );
  }
  socket.destroy();
}
