import { type OpenAPIObject, getSchemaPath } from '@nestjs/swagger';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { ErrorBody, ErrorCode, type ErrorExampleOptions, HookhubError, errorExample, sendError } from '@hookhub/core';
import { type HookContext, type HookRequest, HookResponseDto, type ReceiverService } from '@hookhub/inbound';

const HOOKS_PREFIX = '/hooks/';
/** application/json and the +json types. */
export const JSON_TYPE = /^application\/(.+\+)?json\s*(;|$)/i;
const CONTEXT = Symbol('hookContext');

type WithHook = FastifyRequest & { [CONTEXT]?: HookContext };

function hookContextOf(request: FastifyRequest): HookContext {
  const ctx = (request as WithHook)[CONTEXT];
  if (!ctx) throw new Error('the receiver pre-checks did not run for this request');
  return ctx;
}

function rawBodyOf(request: FastifyRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
}

class BodyTooLarge extends Error {}

/** The client went away before its body was read whole: an info line and a receipt, not an error. */
function clientClosed(): HookhubError {
  return new HookhubError(ErrorCode.ClientClosed, 'The client closed the connection before the body was read');
}

function isAbort(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ECONNRESET' || (err as Error)?.message === 'aborted';
}

/** What is still read (and dropped) of a refused body while its 413 goes out, at most. */
const LINGER_BYTES = 1024 * 1024;
const LINGER_MS = 1000;

/**
 * A refused body's connection: closed with unread bytes in its receive buffer, the kernel answers with a
 * reset, and the client can lose the 413 it was sent (Node 24 closes at once). So the rest is read and
 * dropped for a moment (a lingering close), up to LINGER_BYTES or LINGER_MS, then the connection is ended:
 * the body is never read whole.
 */
function lingerThenClose(payload: Readable): void {
  let dropped = 0;
  const socket = (payload as Readable & { socket?: { destroy(): void } }).socket;
  const close = (): void => {
    clearTimeout(timer);
    payload.off('data', drop);
    socket?.destroy();
  };
  const drop = (chunk: Buffer): void => {
    dropped += chunk.length;
    if (dropped > LINGER_BYTES) close();
  };
  const timer = setTimeout(close, LINGER_MS);
  timer.unref();
  payload.on('data', drop);
  payload.once('end', () => clearTimeout(timer));
}

/**
 * Reads a body up to `limit` bytes. One byte more rejects with BodyTooLarge; the answer says `Connection:
 * close`, and the rest of the body is read and dropped only briefly (see lingerThenClose), never whole.
 */
function readLimited(payload: Readable, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      payload.off('data', onData);
      payload.off('end', onEnd);
      payload.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        lingerThenClose(payload);
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
  });
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
  receiver.refuse(hookRequestOf(request), refused).catch((err: unknown) => sendError(err, request, reply));
}

const ANSWERS: Record<string, string> = {
  200: "A duplicate delivery (the original receipt), or a sync source's finished task",
  202: 'Verified and stored; task ids in the body (or matched: false)',
};

/** The receiver's refusals: what each status means here, and an example of its body. */
const REFUSALS: Record<string, [string, ErrorExampleOptions]> = {
  400: [
    'Malformed URL or body, missing task id, or a value refused by a template pattern',
    { code: ErrorCode.BadRequest, message: 'The body must be a JSON object with "task_id", a positive integer (it is missing)' },
  ],
  401: ['Missing or bad signature, or timestamp outside the replay window', { code: ErrorCode.SignatureInvalid, message: 'X-Hub-Signature-256 does not match the body' }],
  403: ['Address not in the allow-list', { code: ErrorCode.IpNotAllowed, message: 'Address 203.0.113.7 is not allowed to call this source' }],
  404: ['Unknown or disabled source, or unknown task id', { code: ErrorCode.NotFound, message: 'No source named github-api' }],
  405: ['Method not allowed by the source (see Allow)', { code: ErrorCode.MethodNotAllowed, message: 'Method GET is not allowed; use POST' }],
  413: ["Body over the source's cap", { code: ErrorCode.PayloadTooLarge, message: "The body is larger than this source's limit of 1048576 bytes" }],
  415: ['Content type not accepted', { code: ErrorCode.UnsupportedMediaType, message: 'Content type text/plain is not accepted; send application/json' }],
  429: ['Over the rate limit (see Retry-After)', { code: ErrorCode.RateLimited, message: 'Over the limit of 60 requests a minute' }],
  503: ['The database does not answer, so nothing was stored or run (see Retry-After)', { code: ErrorCode.StoreUnavailable }],
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
        'No JWT: the request is verified by the source\'s scheme over the raw body bytes. Every request gets a receipt, ' +
        'and a 2xx is sent only once the receipt and its task runs are stored. A source may also accept PUT, PATCH, GET ' +
        'or DELETE (its `methods`).',
      tags: ['receiver'],
      security: [],
      parameters: [
        { name: 'slug', in: 'path', required: true, schema: { type: 'string', example: 'github-api' } },
        { name: 'X-Hub-Signature-256', in: 'header', required: false, description: "or the header of the source's scheme", schema: { type: 'string' } },
      ],
      requestBody: { required: false, content: { 'application/json': { schema: { type: 'object', example: { task_id: 1 } } } } },
      responses: {
        ...Object.fromEntries(
          Object.entries(ANSWERS).map(([status, description]) => [status, { description, content: { 'application/json': { schema: { $ref: getSchemaPath(HookResponseDto) } } } }]),
        ),
        ...Object.fromEntries(
          Object.entries(REFUSALS).map(([status, [description, example]]) => [
            status,
            { description, content: { 'application/json': { schema: { $ref: getSchemaPath(ErrorBody) }, example: errorExample(Number(status), example) } } },
          ]),
        ),
      },
    },
  };
}

/**
 * The receiver, `/hooks/{slug}`, as a plain Fastify route: it is public and verified by its source, so it
 * needs none of the admin API's guards, pipes and interceptors, and skipping them is a good part of the
 * receiver's speed. Errors still reach the one exception filter (Nest installs it as Fastify's handler).
 */
export function installReceiver(fastify: FastifyInstance, receiver: ReceiverService, apiBodyLimit: number): void {
  installBodyHandling(fastify, receiver, apiBodyLimit);
  fastify.all('/hooks/:slug', async (request, reply) => {
    const result = await receiver.receive(hookContextOf(request), rawBodyOf(request));
    void reply.status(result.status);
    return result.body;
  });
}

/**
 * Body handling for the whole server. The receiver (`/hooks/*`) gets the exact bytes, read up to its
 * source's cap (a larger body is refused before it is read whole); its cheap checks run before any byte is
 * read. Everything else gets JSON parsed under the API body limit.
 */
function installBodyHandling(fastify: FastifyInstance, receiver: ReceiverService, apiBodyLimit: number): void {
  RECEIVERS.set(fastify, receiver);
  fastify.addHook('onRequest', async (request) => {
    if (!request.url.startsWith(HOOKS_PREFIX)) return;
    (request as WithHook)[CONTEXT] = await receiver.preflight(hookRequestOf(request));
  });
  // Every receiver answer has a receipt, even an error raised below the receiver (e.g. Fastify refusing a
  // content type it cannot parse): it is recorded here, before the answer leaves.
  fastify.addHook('onSend', async (request, reply, payload) => {
    const ctx = (request as WithHook)[CONTEXT];
    if (ctx && !ctx.recorded) await receiver.recordAnswer(ctx, reply.statusCode, reasonOf(payload));
    return payload;
  });

  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', async (request: FastifyRequest, payload: Readable) => {
    const ctx = (request as WithHook)[CONTEXT];
    if (ctx) {
      try {
        return await readLimited(payload, ctx.bodyLimit);
      } catch (err) {
        if (err instanceof BodyTooLarge) await receiver.reject(ctx, receiver.tooLarge(ctx));
        if (isAbort(err) || request.raw.destroyed) await receiver.reject(ctx, clientClosed());
        throw err;
      }
    }
    let raw: Buffer;
    try {
      raw = await readLimited(payload, apiBodyLimit);
    } catch (err) {
      if (err instanceof BodyTooLarge) throw new HookhubError(ErrorCode.PayloadTooLarge, `The body is larger than ${apiBodyLimit} bytes`);
      if (isAbort(err) || request.raw.destroyed) throw clientClosed();
      throw err;
    }
    const type = request.headers['content-type'] ?? '';
    if (!JSON_TYPE.test(type)) return raw;
    // Many HTTP clients send Content-Type: application/json on every call, bodiless POSTs and DELETEs
    // included: no bytes is no body (an operation that needs one says which fields are missing).
    if (raw.length === 0) return undefined;
    const text = raw.toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw HookhubError.badRequest('Malformed JSON body');
    }
    if (text.includes('"__proto__"')) throw HookhubError.badRequest('The body may not contain a "__proto__" key');
    return parsed;
  });
}
