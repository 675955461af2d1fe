import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Params } from 'nestjs-pino';
import type { AppConfig } from '../config/app-config';

/** Header names whose values must never reach a log line. */
export const SENSITIVE_HEADERS = [
  'authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'x-signature',
  'x-hub-signature',
  'x-hub-signature-256',
  'x-gitlab-token',
  'stripe-signature',
  'x-slack-signature',
  'x-shopify-hmac-sha256',
  'webhook-signature',
  'proxy-authorization',
];

/** Pino redaction paths: sensitive headers of requests and responses, and secret-looking fields. */
export const REDACT_PATHS = [
  ...SENSITIVE_HEADERS.map((h) => `req.headers["${h}"]`),
  'res.headers["set-cookie"]',
  '*.password',
  '*.current_password',
  '*.new_password',
  '*.secret',
  '*.secrets',
  '*.token',
  '*.access_token',
  '*.key',
  '*.api_key',
  'password',
  'secret',
  'token',
];

/** Request headers a log line may show. */
const LOGGED_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'user-agent',
  'content-type',
  'content-length',
  'accept',
  'x-request-id',
  'x-forwarded-for',
  'x-github-event',
  'x-gitlab-event',
]);

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Fastify's request id generator: keeps a well-formed incoming `X-Request-Id`, otherwise makes a UUID.
 * The id is stored on the raw request too, so pino-http logs the same id.
 */
export function generateRequestId(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
  (req as IncomingMessage & { id?: string }).id = id;
  return id;
}

/** nestjs-pino settings: JSON logs with the request id in every line and secrets redacted. */
export function loggerParams(config: AppConfig): Params {
  return {
    pinoHttp: {
      level: config.logLevel,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      genReqId: (req) => (req as IncomingMessage & { id?: string }).id ?? generateRequestId(req),
      customProps: () => ({ service: 'hookhub' }),
      // Access lines are written by the HTTP layer's own onResponse hook (apps/api bootstrap): pino-http's
      // middleware is not reached by every route under Fastify (the receiver is a plain Fastify route).
      autoLogging: false,
      serializers: {
        // Only headers known to hold no credential: a source may read its signature or token from any
        // header it names, so a deny-list could never be complete.
        req: (req: {
          id: string;
          method: string;
          url: string;
          headers: Record<string, unknown>;
          remoteAddress?: string;
        }) => ({
          id: req.id,
          method: req.method,
          url: req.url,
          headers: Object.fromEntries(
            Object.entries(req.headers).filter(([name]) => LOGGED_HEADERS.has(name.toLowerCase())),
          ),
          remoteAddress: req.remoteAddress,
        }),
      },
    },
  };
}
