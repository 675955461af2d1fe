import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { AddressGuard } from './net/address-guard';
import { HttpSender, RESPONSE_BODY_CAP, parseRetryAfter } from './net/http-sender';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** A real local receiver whose answer each test sets; it records what it was sent. */
describe('HttpSender', () => {
  let server: Server;
  let port: number;
  let seen: Seen[] = [];
  let answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end('ok');
  const allowed = new HttpSender(new AddressGuard(['127.0.0.1', '::1']));
  const guarded = new HttpSender(new AddressGuard());

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        answer(req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  beforeEach(() => {
    seen = [];
    answer = (_req, res) => res.end('ok');
  });
  afterAll(async () => {
    await allowed.close();
    await guarded.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const send = (sender: HttpSender, url = `http://127.0.0.1:${port}/hook?x=1`, timeoutMs = 2000) =>
    sender.send({
      url,
      headers: { 'content-type': 'application/json', 'webhook-id': 'msg_1' },
      body: Buffer.from('{"a": 1}'),
      timeoutMs,
    });

  it('posts the exact bytes and headers, and reports status, body and time', async () => {
    answer = (_req, res) => res.writeHead(201, { 'x-reply': 'yes' }).end('created');
    const r = await send(allowed);
    expect(r).toMatchObject({
      ok: true,
      status: 201,
      body: 'created',
      bodyTruncated: false,
      error: null,
      errorKind: null,
    });
    expect(r.headers['x-reply']).toBe('yes');
    expect(r.durationMs).toBeGreaterThan(0);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/hook?x=1' });
    expect(seen[0].body.toString()).toBe('{"a": 1}');
    expect(seen[0].headers).toMatchObject({
      'content-type': 'application/json',
      'webhook-id': 'msg_1',
      host: `127.0.0.1:${port}`,
    });
  });

  it('counts a non-2xx as a failure and never follows a redirect', async () => {
    answer = (req, res) =>
      req.url === '/elsewhere' ? res.end('followed') : res.writeHead(302, { location: '/elsewhere' }).end();
    const r = await send(allowed);
    expect(r).toMatchObject({ ok: false, status: 302 });
    expect(seen.map((s) => s.url)).toEqual(['/hook?x=1']);
    answer = (_req, res) => res.writeHead(500).end('boom');
    expect(await send(allowed)).toMatchObject({ ok: false, status: 500, body: 'boom' });
  });

  it('keeps 16 KiB of a large answer', async () => {
    answer = (_req, res) => res.end('x'.repeat(RESPONSE_BODY_CAP * 4));
    const r = await send(allowed);
    expect(r.ok).toBe(true);
    expect(r.body).toHaveLength(RESPONSE_BODY_CAP);
    expect(r.bodyTruncated).toBe(true);
  });

  it('reads Retry-After in seconds or as a date', async () => {
    answer = (_req, res) => res.writeHead(429, { 'retry-after': '120' }).end();
    expect(await send(allowed)).toMatchObject({ ok: false, status: 429, retryAfterSeconds: 120 });
    expect(parseRetryAfter(new Date(Date.now() + 90_000).toUTCString())).toBeGreaterThanOrEqual(88);
    expect(parseRetryAfter('soon')).toBeNull();
    expect(parseRetryAfter(undefined)).toBeNull();
  });

  it('gives up when the answer does not come in time', async () => {
    answer = (_req, res) => setTimeout(() => res.end('late'), 1500);
    const r = await send(allowed, undefined, 200);
    // The receiver would answer at 1.5 s: no status means the sender did not wait for it.
    expect(r).toMatchObject({
      ok: false,
      status: null,
      errorKind: 'timeout',
      error: 'no complete answer within 200 ms',
    });
  });

  it('refuses a private destination before connecting, by literal and by name', async () => {
    // A receiver of its own, so no connection left over from another test can be counted.
    let reached = 0;
    const target = createServer((_req, res) => res.end('reached'));
    target.on('connection', () => reached++);
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const targetPort = (target.address() as { port: number }).port;
    try {
      const literal = await send(guarded, `http://127.0.0.1:${targetPort}/hook`);
      expect(literal).toMatchObject({ ok: false, status: null, errorKind: 'blocked' });
      expect(literal.error).toContain('127.0.0.1 is a loopback address');
      const named = await send(guarded, `http://localhost:${targetPort}/hook`);
      expect(named.errorKind).toBe('blocked');
      expect(named.error).toMatch(/localhost resolves to .*loopback/);
      expect(reached).toBe(0);
    } finally {
      await new Promise((resolve) => target.close(resolve));
    }
  });

  it('reaches an allowed name at the checked address, with the name as Host', async () => {
    const r = await send(allowed, `http://localhost:${port}/named`);
    expect(r.ok).toBe(true);
    expect(seen[0].headers.host).toBe(`localhost:${port}`);
  });

  it('reports a refused connection and a bad URL without throwing', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    expect(await send(allowed, `http://127.0.0.1:${closedPort}/`)).toMatchObject({ ok: false, errorKind: 'connect' });
    expect(await send(allowed, 'ftp://example.com/x')).toMatchObject({ ok: false, errorKind: 'protocol' });
    expect(await send(allowed, 'not a url')).toMatchObject({ ok: false, errorKind: 'protocol' });
  });
});
