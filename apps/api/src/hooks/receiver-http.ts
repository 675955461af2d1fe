import { type OpenAPIObject, getSchemaPath } from '@nestjs/swagger';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorBody, ErrorCode, type ErrorExampleOptions, HookhubError, errorExample, sendError } from '@hookhub/core';
import {
  HookResponseDto,
  type HookRequest,
  type HubRoutes,
  type PathAliases,
  type ReceiverService,
  type RoutedContext,
  simpleError,
} from '@hookhub/inbound';
import { takeRawBody } from '../http/body-parsing';

const HOOKS_PREFIX = '/hooks/';
const CONTEXT = Symbol('hookContext');

type WithHook = FastifyRequest & { [CONTEXT]?: RoutedContext };

function hookContextOf(request: FastifyRequest): RoutedContext {
  const ctx = (request as WithHook)[CONTEXT];
  if (!ctx) throw new Error('the receiver pre-checks did not run for this request');
  return ctx;
}

function rawBodyOf(request: FastifyRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
}

/** The slug of a receiver URL: everything after /hooks/ up to the query, so `/hooks/a/b` is an unknown source. */
function slugOf(url: string): string {
  const path = url.slice(HOOKS_PREFIX.length).split('?')[0];
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** `code: message` from an error body, for a receipt's reason. */
function reasonOf(payload: unknown): string {
  if (typeof payload !== 'string') return 'answered without a body';
  try {
    const body = JSON.parse(payload) as { code?: unknown; message?: unknown };
    return `${String(body.code ?? 'error')}: ${String(body.message ?? '')}`;
  } catch {
    return payload.slice(0, 200);
  }
}

const RECEIVERS = new WeakMap<FastifyInstance, ReceiverService>();

function hookRequestOf(request: FastifyRequest): HookRequest {
  const query: Record<string, string> = {};
  const q = request.url.indexOf('?');
  if (q >= 0) for (const [k, v] of new URLSearchParams(request.url.slice(q + 1))) query[k] = v;
  return { slug: slugOf(request.url), method: request.method, headers: request.headers, ip: request.ip, query };
}

/**
 * Fastify's `frameworkErrors`: errors raised before routing, such as a malformed URL (`/hooks/%zz`). They get
 * the API's error body, and a receiver URL still gets its receipt.
 */
export function handleFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  // Raised before the onRequest hooks that set it on every other answer.
  void reply.header('x-request-id', request.id);
  const url = request.url.length > 200 ? `${request.url.slice(0, 200)}...` : request.url;
  const refused =
    error.code === 'FST_ERR_BAD_URL'
      ? HookhubError.badRequest(`The URL ${url} is not valid (malformed percent-encoding)`)
      : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? new HookhubError(ErrorCode.UriTooLong, `A part of the URL ${url} is longer than 100 characters`)
        : HookhubError.badRequest(error.message.slice(0, 300));
  const receiver = RECEIVERS.get(request.server);
  if (!receiver || !request.url.startsWith(HOOKS_PREFIX)) return sendError(refused, request, reply);
  receiver.recordUnrouted(hookRequestOf(request), refused).then(
    (answer) => sendError(answer, request, reply),
    (err: unknown) => sendError(err, request, reply),
  );
}

const ANSWERS: Record<string, string> = {
  200: "A duplicate delivery (the original receipt), or a sync source's finished task",
  202: 'Verified and stored; task ids in the body (or matched: false)',
};

/** The receiver's refusals: what each status means here, and an example of its body. */
const REFUSALS: Record<string, [string, ErrorExampleOptions]> = {
  400: [
    'Malformed URL or body, missing task id, or a value refused by a template pattern',
    {
      code: ErrorCode.BadRequest,
      message: 'The body must be a JSON object with "task_id", a positive integer (it is missing)',
    },
  ],
  401: [
    'Missing or bad signature, or timestamp outside the replay window',
    { code: ErrorCode.SignatureInvalid, message: 'X-Hub-Signature-256 does not match the body' },
  ],
  403: [
    'Address not in the allow-list',
    { code: ErrorCode.IpNotAllowed, message: 'Address 203.0.113.7 is not allowed to call this source' },
  ],
  404: [
    'Unknown or disabled source, or unknown task id',
    { code: ErrorCode.NotFound, message: 'No source named github-api' },
  ],
  405: [
    'Method not allowed by the source (see Allow)',
    { code: ErrorCode.MethodNotAllowed, message: 'Method GET is not allowed; use POST' },
  ],
  413: [
    "Body over the source's cap",
    { code: ErrorCode.PayloadTooLarge, message: "The body is larger than this source's limit of 1048576 bytes" },
  ],
  415: [
    'Content type not accepted',
    { code: ErrorCode.UnsupportedMediaType, message: 'Content type text/plain is not accepted; send application/json' },
  ],
  429: [
    'Over the rate limit (see Retry-After)',
    { code: ErrorCode.RateLimited, message: 'Over the limit of 60 requests a minute' },
  ],
  503: [
    'The database does not answer, so nothing was stored or run (see Retry-After)',
    { code: ErrorCode.StoreUnavailable },
  ],
};

/**
 * The receiver's entry in the OpenAPI document. It is a plain Fastify route (see {@link installReceiver}),
 * so it is described here rather than by controller decorators; its schemas are registered as extra models.
 */
export function documentReceiver(document: OpenAPIObject): void {
  document.paths['/hooks/{slug}'] = {
    post: {
      operationId: 'receiveHook',
      summary: 'Send a trigger to a source',
      description:
        "No JWT: the request is verified by the source's scheme over the raw body bytes. Every request gets a receipt, " +
        'and a 2xx is sent only once the receipt and its task runs are stored. A source may also accept PUT, PATCH, GET ' +
        'or DELETE (its `methods`). A source may also be reached at its `aliases` (exact paths such as `/backup` or ' +
        '`/api/webhooks/task-sync`, for senders that cannot change their URL), and may shape its answers (`answer`: ' +
        'status codes, a body template, `{"error": "..."}` refusals); the answers below are the defaults.',
      tags: ['receiver'],
      security: [],
      parameters: [
        { name: 'slug', in: 'path', required: true, schema: { type: 'string', example: 'github-api' } },
        {
          name: 'X-Hub-Signature-256',
          in: 'header',
          required: false,
          description: "or the header of the source's scheme",
          schema: { type: 'string' },
        },
      ],
      requestBody: {
        required: false,
        content: { 'application/json': { schema: { type: 'object', example: { task_id: 1 } } } },
      },
      responses: {
        ...Object.fromEntries(
          Object.entries(ANSWERS).map(([status, description]) => [
            status,
            { description, content: { 'application/json': { schema: { $ref: getSchemaPath(HookResponseDto) } } } },
          ]),
        ),
        ...Object.fromEntries(
          Object.entries(REFUSALS).map(([status, [description, example]]) => [
            status,
            {
              description,
              content: {
                'application/json': {
                  schema: { $ref: getSchemaPath(ErrorBody) },
                  example: errorExample(Number(status), example),
                },
              },
            },
          ]),
        ),
      },
    },
  };
}

/**
 * The document as served: each source alias as its own path (`POST /backup`), a copy of the receiver's
 * operation for that source. Aliases change while the hub runs, so this is applied to every request for the
 * document, never to the document itself.
 */
export function withAliases(document: OpenAPIObject, aliases: Array<[path: string, slug: string]>): OpenAPIObject {
  const receive = document.paths['/hooks/{slug}']?.post;
  if (!receive || !aliases.length) return document;
  const paths = { ...document.paths };
  for (const [path, slug] of aliases) {
    paths[path] = {
      ...paths[path],
      post: {
        ...receive,
        operationId: `receiveHook_${path.replace(/[^A-Za-z0-9]+/g, '_')}`,
        summary: `Send a trigger to source ${slug} (an alias of /hooks/${slug})`,
        tags: ['receiver aliases'],
        parameters: (receive.parameters ?? []).filter((p) => !('name' in p && p.name === 'slug')),
      },
    };
  }
  return { ...document, paths };
}

/**
 * The receiver, `/hooks/{slug}`, as a plain Fastify route: it is public and verified by its source, so it
 * needs none of the admin API's guards, pipes and interceptors, and skipping them is a good part of the
 * receiver's speed. Errors still reach the one exception filter (Nest installs it as Fastify's handler).
 * Its cheap checks run before any byte of the body is read; the body is then read as the exact bytes, up
 * to the source's cap (see http/body-parsing.ts, which bootstrap installs for the whole server).
 */
export function installReceiver(fastify: FastifyInstance, receiver: ReceiverService): void {
  RECEIVERS.set(fastify, receiver);
  fastify.addHook('onRequest', async (request) => {
    if (!request.url.startsWith(HOOKS_PREFIX)) return;
    const ctx = await receiver.preflight(hookRequestOf(request));
    (request as WithHook)[CONTEXT] = ctx;
    takeRawBody(request, {
      limit: ctx.bodyLimit,
      tooLarge: () => receiver.tooLarge(ctx),
      refuse: (error) => receiver.recordRefusal(ctx, error),
    });
  });
  // Every receiver answer has a receipt, even an error raised below the receiver (e.g. Fastify refusing a
  // content type it cannot parse): it is recorded here, before the answer leaves.
  fastify.addHook('onSend', async (request, reply, payload) => {
    const ctx = (request as WithHook)[CONTEXT];
    if (ctx && !ctx.recorded) await receiver.recordAnswer(ctx, reply.statusCode, reasonOf(payload));
    return payload;
  });
  // A source may word its refusals `{"error": "..."}` (its answer's `errors: simple`), for senders that expect
  // the hub it replaces; the receipt above has already kept Hookhub's code and message.
  fastify.addHook('onSend', async (request, reply, payload) => {
    if (reply.statusCode < 400 || typeof payload !== 'string' || !request.url.startsWith(HOOKS_PREFIX)) return payload;
    // The source this request already found (also while the store is down), else the one its URL names.
    const routed = (request as WithHook)[CONTEXT]?.compiled?.source;
    const answer = routed ? routed.answer : await receiver.answerOf(slugOf(request.url));
    if (answer?.errors !== 'simple') return payload;
    try {
      const body = JSON.parse(payload) as { code?: unknown; message?: unknown };
      if (typeof body.code !== 'string') return payload;
      return JSON.stringify(simpleError(body.code, String(body.message ?? ''), answer.error_messages));
    } catch {
      return payload;
    }
  });
  fastify.all('/hooks/:slug', async (request, reply) => {
    const result = await receiver.receive(hookContextOf(request), rawBodyOf(request));
    void reply.status(result.status);
    // A text answer (a source's `answer` template may be one) is sent as it is.
    if (typeof result.body === 'string')
      void reply.type('text/plain; charset=utf-8').header('x-content-type-options', 'nosniff');
    return result.body;
  });
}

/** Where the server sends a request before routing: set once the app (and its aliases) exist. */
export interface UrlRewrite {
  rewrite: ((method: string, url: string) => string) | null;
}

/**
 * Sends requests to a source's aliases (`POST /backup`) on to `/hooks/{slug}` before routing, so from there
 * on they are receiver requests like any other, and tells the aliases which paths Hookhub's routes answer.
 */
export function installAliases(
  fastify: FastifyInstance,
  aliases: PathAliases,
  routes: HubRoutes,
  to: UrlRewrite,
): void {
  fastify.addHook('onRoute', (route) => routes.add(route.method, route.url));
  to.rewrite = (method, url) => aliases.rewrite(method, url);
}
