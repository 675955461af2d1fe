import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Where the console is served: `/console/`, its hashed files under `/console/assets/`. */
export const CONSOLE_PREFIX = '/console/';

/**
 * The built console (`npm run build` writes it to `dist/console`, beside `dist/apps`). The compiled API lives
 * in `dist/apps/api/src/http`; under Jest (ES modules, no `__dirname`) the project's own `dist/console`.
 */
export function defaultConsoleDir(): string {
  return typeof __dirname === 'string' ? resolve(__dirname, '../../../../console') : resolve('dist/console');
}

/**
 * Serves the operator console: the single-page app's files from `dir` (hashed names under `assets/`, cached for
 * a year; `index.html` revalidated every time, so a new build is picked up at once), `/` and `/console`
 * redirected to `/console/`. A hub whose console was not built answers `/console/` with a page that says so.
 */
export async function installConsole(fastify: FastifyInstance, dir: string): Promise<void> {
  fastify.get('/', (_request, reply) => reply.redirect(CONSOLE_PREFIX, 302));
  // `/console` is `/console/` to the router (it ignores trailing slashes) but not to the browser, which would
  // resolve the page's relative URLs against `/`: send it to the canonical address first.
  fastify.addHook('onRequest', async (request, reply) => {
    if (request.url === '/console' || request.url.startsWith('/console?')) await reply.redirect(CONSOLE_PREFIX, 302);
  });
  if (!existsSync(join(dir, 'index.html'))) {
    fastify.get(`${CONSOLE_PREFIX}*`, (_request, reply) =>
      reply
        .code(404)
        .type('text/plain; charset=utf-8')
        .send(`The console is not built (no ${join(dir, 'index.html')}): run npm run build.\n`),
    );
    return;
  }
  const headers = (reply: FastifyReply, path: string) => {
    // Hashed names never change content; index.html names the current ones.
    const immutable = path.startsWith(join(dir, 'assets'));
    void reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    void reply.header('x-content-type-options', 'nosniff');
    if (path.endsWith('.html')) {
      // The console talks to this hub only: no script, style, font or request to any other host.
      void reply.header(
        'content-security-policy',
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; " +
          "frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
      );
      void reply.header('x-frame-options', 'DENY');
    }
  };
  // The page itself (the router ignores trailing slashes, so the static files' `/console/*` misses it).
  const index = join(dir, 'index.html');
  fastify.get(CONSOLE_PREFIX, async (_request, reply) => {
    headers(reply, index);
    return reply.type('text/html; charset=utf-8').send(await readFile(index));
  });
  await fastify.register(fastifyStatic, {
    root: dir,
    prefix: CONSOLE_PREFIX,
    index: false,
    wildcard: true,
    // Swagger UI's own registration decorates the reply already.
    decorateReply: false,
    cacheControl: false,
    setHeaders: headers,
  });
}
