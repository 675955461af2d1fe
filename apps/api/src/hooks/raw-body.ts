import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { ErrorCode, HookhubError } from '@hookhub/core';
import type { HookContext, ReceiverService } from '@hookhub/inbound';

const HOOKS_PREFIX = '/hooks/';
/** application/json and the +json types. */
export const JSON_TYPE = /^application\/(.+\+)?json\s*(;|$)/i;
const CONTEXT = Symbol('hookContext');

type WithHook = FastifyRequest & { [CONTEXT]?: HookContext };

export function hookContextOf(request: FastifyRequest): HookContext {
  const ctx = (request as WithHook)[CONTEXT];
  if (!ctx) throw new Error('the receiver pre-checks did not run for this request');
  return ctx;
}

export function rawBodyOf(request: FastifyRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
}

class BodyTooLarge extends Error {}

async function readLimited(payload: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of payload as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function slugOf(url: string): string {
  const path = url.slice(HOOKS_PREFIX.length).split('?')[0];
  try {
    return decodeURIComponent(path.split('/')[0]);
  } catch {
    return path;
  }
}

/**
 * Body handling for the whole server. The receiver (`/hooks/*`) gets the exact bytes, read up to its
 * source's cap (a larger body is refused before it is read whole); its cheap checks run before any byte is
 * read. Everything else gets JSON parsed under the API body limit.
 */
export function installBodyHandling(fastify: FastifyInstance, receiver: ReceiverService, apiBodyLimit: number): void {
  fastify.addHook('onRequest', async (request) => {
    if (!request.url.startsWith(HOOKS_PREFIX)) return;
    const query: Record<string, string> = {};
    const q = request.url.indexOf('?');
    if (q >= 0) for (const [k, v] of new URLSearchParams(request.url.slice(q + 1))) query[k] = v;
    (request as WithHook)[CONTEXT] = await receiver.preflight({ slug: slugOf(request.url), method: request.method, headers: request.headers, ip: request.ip, query });
  });

  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', async (request: FastifyRequest, payload: Readable) => {
    const ctx = (request as WithHook)[CONTEXT];
    if (ctx) {
      try {
        return await readLimited(payload, ctx.bodyLimit);
      } catch (err) {
        if (err instanceof BodyTooLarge) await receiver.reject(ctx, receiver.tooLarge(ctx));
        throw err;
      }
    }
    let raw: Buffer;
    try {
      raw = await readLimited(payload, apiBodyLimit);
    } catch (err) {
      if (err instanceof BodyTooLarge) throw new HookhubError(ErrorCode.PayloadTooLarge, `The body is larger than ${apiBodyLimit} bytes`);
      throw err;
    }
    const type = request.headers['content-type'] ?? '';
    if (!JSON_TYPE.test(type)) return raw;
    if (raw.length === 0) throw HookhubError.badRequest('Body cannot be empty when Content-Type is application/json');
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
