import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { ErrorCode, HookhubError } from '@hookhub/core';

/** application/json and the +json types. */
export const JSON_TYPE = /^application\/(.+\+)?json\s*(;|$)/i;

/**
 * A request whose route takes its body as the exact bytes, under a cap of its own (the receiver: its
 * source's). Set by the route's onRequest hook with {@link takeRawBody}, before any byte is read.
 */
export interface RawBody {
  /** The most bytes the body may have. */
  limit: number;
  /** The answer to a body over the limit. */
  tooLarge(): HookhubError;
  /** Records a refusal of the body (the receiver writes its receipt); returns the error, to be thrown. */
  refuse(error: HookhubError): Promise<HookhubError>;
}

const RAW_BODY = Symbol('rawBody');
type WithRawBody = FastifyRequest & { [RAW_BODY]?: RawBody };

/** Marks `request` as one whose body is read as raw bytes under `raw`'s cap, not parsed. */
export function takeRawBody(request: FastifyRequest, raw: RawBody): void {
  (request as WithRawBody)[RAW_BODY] = raw;
}

class BodyTooLarge extends Error {}

/** The client went away before its body was read whole: an info line (and, on the receiver, a receipt), not an error. */
function clientClosed(): HookhubError {
  return new HookhubError(ErrorCode.ClientClosed, 'The client closed the connection before the body was read');
}

function isAbort(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ECONNRESET' || (err as Error)?.message === 'aborted';
}

/** How long a refused body's connection lingers after its answer, reading and dropping what still comes. */
const LINGER_MS = 1000;
/** The longest a refused body is read and dropped while its answer is on its way (a safety net). */
const ANSWER_WAIT_MS = 10_000;

/**
 * A refused body's connection, closed without losing its answer (a lingering close). Node closes it once
 * the answer is sent (the body was not read to its end, so the answer says `Connection: close`) with
 * `destroySoon()`: at once, with the client's unread bytes in the receive buffer, so the kernel answers
 * with a reset and the client can lose the 413 it was sent. Here `destroySoon` only half-closes (the
 * answer, then FIN), the rest is read and dropped, and the connection is destroyed when the client closes
 * its side or LINGER_MS later. Called when the answer is about to go out; until then the body is paused
 * (see readLimited), so a slow refusal (its receipt is written first) reads nothing more, and the body is
 * never read whole.
 */
function lingerThenClose(payload: Readable): void {
  const socket = (payload as Readable & { socket?: Socket }).socket;
  const drop = (): void => undefined;
  payload.on('data', drop);
  payload.resume();
  if (!socket) return;
  const destroy = (): void => {
    clearTimeout(timer);
    socket.destroy();
  };
  let timer = setTimeout(destroy, ANSWER_WAIT_MS);
  timer.unref();
  socket.destroySoon = () => {
    socket.end();
    clearTimeout(timer);
    timer = setTimeout(destroy, LINGER_MS);
    timer.unref();
    socket.once('end', destroy);
  };
  socket.once('close', () => clearTimeout(timer));
}

/**
 * Reads a body up to `limit` bytes. One byte more pauses the body and rejects with BodyTooLarge; the answer
 * says `Connection: close`, and the rest of the body is read and dropped only briefly (see lingerThenClose),
 * never whole.
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
        payload.pause();
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

/** JSON bodies parsed, other types as their bytes; nothing at all (no bytes) is no body. */
function parseApiBody(request: FastifyRequest, raw: Buffer): unknown {
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
}

/**
 * Body handling for the whole server, in place of Fastify's and Nest's parsers (so call it after the app's
 * init, which registers Nest's). A route that took the raw body ({@link takeRawBody}: the receiver) gets the
 * exact bytes, read up to its cap (a larger body is refused before it is read whole); everything else gets
 * JSON parsed under the API body limit.
 */
export function installBodyParsing(fastify: FastifyInstance, apiBodyLimit: number): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', async (request: FastifyRequest, payload: Readable) => {
    const route = (request as WithRawBody)[RAW_BODY];
    if (route) {
      try {
        return await readLimited(payload, route.limit);
      } catch (err) {
        if (err instanceof BodyTooLarge) {
          try {
            throw await route.refuse(route.tooLarge());
          } finally {
            lingerThenClose(payload);
          }
        }
        if (isAbort(err) || request.raw.destroyed) throw await route.refuse(clientClosed());
        throw err;
      }
    }
    let raw: Buffer;
    try {
      raw = await readLimited(payload, apiBodyLimit);
    } catch (err) {
      if (err instanceof BodyTooLarge) {
        lingerThenClose(payload);
        throw new HookhubError(ErrorCode.PayloadTooLarge, `The body is larger than ${apiBodyLimit} bytes`);
      }
      if (isAbort(err) || request.raw.destroyed) throw clientClosed();
      throw err;
    }
    return parseApiBody(request, raw);
  });
}
