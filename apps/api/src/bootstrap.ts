import type { IncomingMessage } from 'node:http';
import { Logger as NestLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import {
  type AppConfig,
  ErrorBody,
  ErrorCode,
  HookhubError,
  MetricsService,
  documentErrorResponses,
  generateRequestId,
  inputProblem,
} from '@hookhub/core';
import { HookResponseDto, HubRoutes, PathAliases, ReceiverService } from '@hookhub/inbound';
import {
  type UrlRewrite,
  documentReceiver,
  handleFrameworkError,
  installAliases,
  installReceiver,
  withAliases,
} from './hooks/receiver-http';
import { JSON_TYPE, installBodyParsing } from './http/body-parsing';
import { defaultConsoleDir, installConsole } from './http/console';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
import { AppModule } from './app.module';
import { handleClientError } from './http/client-errors';

export interface CreateAppOptions {
  /** Use Nest's plain logger output instead of JSON (tests pass false to keep output quiet). */
  bufferLogs?: boolean;
}

/** Trust the nearest `hops` proxies for X-Forwarded-For. */
function trustHops(hops: number): (address: string, hop: number) => boolean {
  return (_address, hop) => hop < hops;
}

export function createFastifyAdapter(config: AppConfig, to: UrlRewrite = { rewrite: null }): FastifyAdapter {
  return new FastifyAdapter({
    // A source's aliases (see installAliases): before routing, so an alias reaches the receiver's route.
    rewriteUrl: (req: IncomingMessage) => {
      const url = req.url ?? '/';
      return to.rewrite ? to.rewrite(req.method ?? 'GET', url) : url;
    },
    bodyLimit: config.http.bodyLimit,
    trustProxy: typeof config.http.trustProxy === 'number' ? trustHops(config.http.trustProxy) : config.http.trustProxy,
    genReqId: generateRequestId,
    logger: false,
    return503OnClosing: true,
    // `/api/webhooks/` (as scenario 4's clients write it) is `/api/webhooks`.
    routerOptions: { ignoreTrailingSlash: true },
    frameworkErrors: handleFrameworkError,
    clientErrorHandler: handleClientError,
  });
}

export function swaggerDocument(app: NestFastifyApplication) {
  const builder = new DocumentBuilder()
    .setTitle('Hookhub')
    .setDescription(
      'Self-hosted webhook hub. Log in with `POST /api/auth/login` and use the token with **Authorize** ' +
        '(bearer), or send an API key as `Authorization: Bearer hk_...` or `X-API-Key`. Errors are ' +
        '`{statusCode, error, code, message, details?, requestId}`. Lists are paginated with `limit` and `cursor`.',
    )
    .setVersion('0.1.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT or API key' }, 'bearer')
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, 'api-key')
    .build();
  const document = SwaggerModule.createDocument(app, builder, { extraModels: [HookResponseDto, ErrorBody] });
  documentReceiver(document);
  // Every error response gets an example of its own status; the admin API and the receiver read and write the
  // store, so they may answer 503 store_unavailable (/health/ready declares its own); the admin API is
  // throttled, so it may answer 429 rate_limited (the receiver declares its own).
  documentErrorResponses(document, {
    storeBacked: (path) => path.startsWith('/api/') || path.startsWith('/hooks/'),
    throttled: (path) => path.startsWith('/api/'),
  });
  return document;
}

/**
 * Builds the HTTP application exactly as production runs it: Fastify with its limits and request ids, the
 * app module with its global guard, pipe, filter and interceptor, metrics and Swagger. Used by main and by
 * the e2e tests.
 */
export async function createApp(config: AppConfig, options: CreateAppOptions = {}): Promise<NestFastifyApplication> {
  const urlRewrite: UrlRewrite = { rewrite: null };
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config),
    createFastifyAdapter(config, urlRewrite),
    {
      bufferLogs: options.bufferLogs ?? true,
      abortOnError: false,
    },
  );
  app.useLogger(app.get(Logger));
  app.flushLogs();

  const metrics = app.get(MetricsService);
  const fastify = app.getHttpAdapter().getInstance();
  // First: every route registered from here on is one an alias may not take.
  installAliases(fastify, app.get(PathAliases), app.get(HubRoutes), urlRewrite);
  fastify.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  // The admin API speaks JSON only: any other body is refused before it is parsed.
  fastify.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/api/') || !BODY_METHODS.has(request.method)) return;
    const hasBody =
      Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined;
    const type = request.headers['content-type'];
    if (hasBody && !(typeof type === 'string' && JSON_TYPE.test(type))) {
      throw new HookhubError(ErrorCode.UnsupportedMediaType, 'The admin API accepts application/json bodies only');
    }
  });
  fastify.addHook('preValidation', async (request) => {
    if (!request.url.startsWith('/api/')) return;
    // Whatever the endpoint: no NUL character, no nesting past MAX_INPUT_DEPTH (400, never a 500 below).
    for (const [root, value] of [
      ['query', request.query],
      ['path', request.params],
      ['body', request.body],
    ] as const) {
      const problem = inputProblem(value, root);
      if (problem) throw new HookhubError(ErrorCode.ValidationFailed, problem.errors[0], [problem]);
    }
    if (request.body === undefined || request.body === null) return;
    if (typeof request.body !== 'object' || Array.isArray(request.body)) {
      throw new HookhubError(ErrorCode.BadRequest, 'The request body must be a JSON object');
    }
  });
  // Once closing, answers to requests still in flight end their connections: a keep-alive connection that
  // became idle after the server stopped listening would otherwise hold the close for keepAliveTimeout (72 s).
  let closing = false;
  fastify.addHook('preClose', async () => {
    closing = true;
  });
  fastify.addHook('onSend', async (_request, reply, payload) => {
    if (closing) void reply.header('connection', 'close');
    return payload;
  });
  // One access line per request (the receiver's included), with its id; the path without the query, which
  // some senders use for tokens, and none of the headers.
  const access = new NestLogger('HTTP');
  fastify.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    if (request.url === '/health/live' || request.url === '/metrics') return;
    access.log({
      msg: 'request completed',
      requestId: request.id,
      method: request.method,
      // As the client sent it: an alias, not the /hooks/{slug} it was routed to.
      path: request.originalUrl.split('?')[0].slice(0, 500),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      ip: request.ip,
    });
  });

  if (config.http.docs) {
    SwaggerModule.setup('docs', app, swaggerDocument(app), {
      jsonDocumentUrl: 'docs-json',
      customSiteTitle: 'Hookhub API',
      swaggerOptions: { persistAuthorization: true },
      // Per request: the sources' aliases change while the hub runs.
      patchDocumentOnRequest: (_req, _res, document: OpenAPIObject) =>
        withAliases(document, app.get(PathAliases).entries()),
    });
  }
  if (config.http.console) await installConsole(fastify, config.http.consoleDir ?? defaultConsoleDir());
  try {
    await app.init();
  } catch (err) {
    // A boot that fails (a bad HOOKHUB_CONFIG, say) still releases the store and its connections.
    await app.close().catch(() => undefined);
    throw err;
  }
  // After init: Nest registers its JSON and form parsers during init, and these replace them.
  installBodyParsing(fastify, config.http.bodyLimit);
  installReceiver(fastify, app.get(ReceiverService));
  return app;
}
