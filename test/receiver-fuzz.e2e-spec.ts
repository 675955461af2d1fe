import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import fc from 'fast-check';
import { DataSource } from 'typeorm';
import { type TestApp, bootApp } from './helpers/app';
import { PROGRAMS_DIR, create, program } from './helpers/inbound';

const SECRET = 'fuzz-secret';
const SIGNED_SLUGS = ['gh', 'byid'];
const SLUGS = [...SIGNED_SLUGS, 'stripe', 'sw', 'slack', 'tok', 'basic', 'hm', 'gitlab'];

interface Sent {
  status: number;
  body: string;
}

/** Raw HTTP, so that odd methods, header values and bodies reach the server as generated. */
function send(
  baseUrl: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
): Promise<Sent> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: { ...headers, 'content-length': String(body.length) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const headerValue = fc.oneof(
  fc.string({ maxLength: 80 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')),
  fc.constantFrom(
    '',
    'sha256=',
    'sha256=00',
    'sha1=abc',
    'v1,',
    'v1,AAAA',
    't=1,v1=00',
    't=abc,v1=',
    'Bearer ',
    'Basic Og==',
    'Basic !!!',
    'whsec_x',
  ),
  fc.integer().map(String),
);
const signatureHeaders = fc.dictionary(
  fc.constantFrom(
    'x-hub-signature-256',
    'x-hub-signature',
    'stripe-signature',
    'webhook-id',
    'webhook-timestamp',
    'webhook-signature',
    'x-slack-signature',
    'x-slack-request-timestamp',
    'x-gitlab-token',
    'authorization',
    'x-signature',
    'x-github-event',
    'x-github-delivery',
    'x-forwarded-for',
  ),
  headerValue,
  { maxKeys: 6 },
);
const contentType = fc.option(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'application/vnd.api+json',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    '*/*',
    'application/',
    ';;;',
  ),
  { nil: undefined },
);
const malformedJson = fc.oneof(
  fc.constantFrom(
    '',
    '{',
    '{"a":',
    '[1,2',
    '{"task_id":}',
    'null',
    'true',
    '"x"',
    '{"__proto__":{"x":1}}',
    '{"constructor":{"prototype":{}}}',
    'NaN',
    '{"a":1}garbage',
    '\u0000',
    '{"ref":"refs/heads/main\u0000"}',
  ),
  fc.string({ maxLength: 300 }),
  fc.json({ maxDepth: 4 }).map((j) => j.slice(0, Math.max(0, j.length - 1))),
  fc.integer({ min: 1, max: 200 }).map((n) => '['.repeat(n) + ']'.repeat(n - 1)),
);
const bodyBytes = fc.oneof(
  malformedJson.map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)),
  fc.constant(Buffer.from([0xff, 0xfe, 0x7b, 0x7d])),
  fc.integer({ min: 4097, max: 9000 }).map((n) => Buffer.alloc(n, 0x61)),
);

/**
 * Throws malformed requests at the receiver: unknown and odd slugs, wrong methods, odd content types, bad and
 * missing signatures of every scheme, broken and hostile bodies (some correctly signed so that they reach the
 * parser and the rules). Every answer must be a 4xx with a JSON error body (never a 5xx), and every request must
 * leave exactly one receipt with the status it was answered.
 */
describe('receiver fuzz', () => {
  let t: TestApp;
  let dataSource: DataSource;

  beforeAll(async () => {
    t = await bootApp({ HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR, HOOKHUB_RUN_WORKERS: 'false' });
    const admin = await t.login();
    dataSource = t.app.get(DataSource);
    const deploy = await create(t, admin, '/api/programs', { name: 'deploy', command: program('deploy.sh') });
    const common = { rate_limit: 1_000_000, body_limit: 4096, secrets: [SECRET] };
    const gh = await create(t, admin, '/api/sources', { ...common, slug: 'gh', scheme: 'github', match_mode: 'all' });
    await create(t, admin, `/api/sources/${gh.id}/rules`, {
      name: 'push',
      condition: {
        or: [
          { path: 'body.ref', regex: '^refs/(heads|tags)/.+$' },
          { path: 'headers.x-github-event', in: ['push', 'ping'] },
        ],
      },
      program_id: deploy.id,
      args: [{ template: '{{body.ref}}', pattern: '^refs/heads/[a-z]+$' }, '{{body.items}}'],
    });
    await create(t, admin, '/api/sources', {
      ...common,
      slug: 'byid',
      scheme: 'github',
      dispatch: 'by_id',
      by_id_programs: [deploy.id],
    });
    await create(t, admin, '/api/sources', { ...common, slug: 'stripe', scheme: 'stripe' });
    await create(t, admin, '/api/sources', {
      ...common,
      slug: 'sw',
      scheme: 'standard-webhooks',
      secrets: ['whsec_' + Buffer.from(SECRET.repeat(2)).toString('base64')],
    });
    await create(t, admin, '/api/sources', { ...common, slug: 'slack', scheme: 'slack' });
    await create(t, admin, '/api/sources', { ...common, slug: 'tok', scheme: 'token' });
    await create(t, admin, '/api/sources', { ...common, slug: 'basic', scheme: 'basic', secrets: ['user:password'] });
    await create(t, admin, '/api/sources', {
      ...common,
      slug: 'hm',
      scheme: 'hmac',
      verification: { header: 'X-Signature', algorithm: 'sha256', encoding: 'base64' },
    });
    await create(t, admin, '/api/sources', { ...common, slug: 'gitlab', scheme: 'gitlab', ip_allow: ['10.0.0.0/8'] });
  });
  afterAll(() => t.close());

  const receiptCount = async () =>
    Number(((await dataSource.query(`SELECT count(*)::int AS n FROM receipts`)) as Array<{ n: number }>)[0].n);

  const rejectedByStatus = async () =>
    Object.fromEntries(
      (
        (await dataSource.query(
          `SELECT status_code, count(*)::int AS n FROM receipts WHERE verdict = 'rejected' GROUP BY status_code`,
        )) as Array<{ status_code: number; n: number }>
      ).map((r) => [r.status_code, r.n]),
    ) as Record<number, number>;

  /**
   * Sends one request; it must be refused with a 4xx and the error body, and leave exactly one receipt, rejected
   * with that status. An answer `accepted` allows (a body that is valid by chance) needs only its receipt.
   */
  const expectRefusedWithReceipt = async (
    what: string,
    request: () => Promise<Sent>,
    accepted: (res: Sent) => boolean = () => false,
  ): Promise<number> => {
    const [total, rejected] = [await receiptCount(), await rejectedByStatus()];
    const res = await request();
    if (accepted(res)) {
      if ((await receiptCount()) !== total + 1) throw new Error(`${what} answered ${res.status} but left no receipt`);
      return res.status;
    }
    if (res.status < 400 || res.status > 499)
      throw new Error(`${what} answered ${res.status}: ${res.body.slice(0, 300)}`);
    const parsed = JSON.parse(res.body) as { statusCode: number; code: string; requestId: string };
    expect(parsed.statusCode).toBe(res.status);
    expect(typeof parsed.code).toBe('string');
    if ((await receiptCount()) !== total + 1) throw new Error(`${what} answered ${res.status} but left no receipt`);
    if ((await rejectedByStatus())[res.status] !== (rejected[res.status] ?? 0) + 1)
      throw new Error(`${what} answered ${res.status} but its receipt says otherwise`);
    return res.status;
  };

  it.each([
    // Each of these once left no receipt: an extra path segment (no route), a malformed URL (refused by
    // Fastify before routing) and a content type Fastify cannot parse (refused below the receiver).
    ['an extra path segment', 'POST', '/hooks/gh/extra', { 'content-type': 'application/json' }, 404, 'not_found'],
    ['malformed percent-encoding', 'POST', '/hooks/%zz', { 'content-type': 'application/json' }, 400, 'bad_request'],
    [
      'an unparseable content type',
      'POST',
      '/hooks/gh',
      { 'content-type': 'application/' },
      415,
      'unsupported_media_type',
    ],
  ])('answers %s with the error body and a receipt', async (_name, method, path, headers, status, code) => {
    const before = await receiptCount();
    const res = await send(t.baseUrl, method, path, headers, Buffer.alloc(0));
    expect(res.status).toBe(status);
    expect(JSON.parse(res.body)).toMatchObject({ statusCode: status, code });
    expect(await receiptCount()).toBe(before + 1);
    const [last] = (await dataSource.query(
      `SELECT status_code, verdict, reason FROM receipts ORDER BY created_at DESC, id DESC LIMIT 1`,
    )) as Array<{ status_code: number; verdict: string; reason: string }>;
    expect(last).toMatchObject({ status_code: status, verdict: 'rejected' });
    expect(last.reason).toContain(code);
  });

  it('cuts off a chunked body (no Content-Length) at the cap with 413 and a receipt, without reading the rest', async () => {
    const before = await receiptCount();
    const url = new URL(t.baseUrl);
    let written = 0;
    let closedByServer: Promise<boolean> = Promise.resolve(false);
    const status = await new Promise<number | string>((resolve) => {
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          method: 'POST',
          path: '/hooks/gh',
          agent: false,
          headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        },
        (res) => {
          res.resume();
          expect(res.headers.connection).toBe('close');
          // The client keeps writing; the server must end the connection rather than drain the endless body.
          closedByServer = new Promise((done) => {
            const timer = setTimeout(() => done(false), 5000);
            req.socket?.once('close', () => (clearTimeout(timer), done(true)));
          });
          resolve(res.statusCode ?? 0);
        },
      );
      // Writing can fail (EPIPE) once the server has answered and closed, before the answer is read: a
      // failure that says so only if no answer follows.
      req.on('error', (err) => setTimeout(() => resolve(`no answer: ${err.message}`), 3000).unref());
      // An endless body, 16 KiB at a time: only the server stopping it can end this request.
      const pump = () => {
        if (req.destroyed || written > 64 * 1024 * 1024) return;
        written += 16 * 1024;
        if (req.write(Buffer.alloc(16 * 1024, 0x20))) setImmediate(pump);
        else req.once('drain', pump);
      };
      req.write('{"a":"');
      pump();
    });
    expect(status).toBe(413);
    expect(await closedByServer).toBe(true);
    // The connection ended long before the client gave up (64 MiB): the server did not read the body to its end.
    expect(written).toBeLessThan(64 * 1024 * 1024);
    // Recorded before the answer was sent: it is there now, rejected with the status the client got.
    expect(await receiptCount()).toBe(before + 1);
    const [last] = (await dataSource.query(
      `SELECT status_code, verdict, reason FROM receipts ORDER BY created_at DESC, id DESC LIMIT 1`,
    )) as Array<{ status_code: number; verdict: string; reason: string }>;
    expect(last).toMatchObject({ status_code: 413, verdict: 'rejected' });
    expect(last.reason).toMatch(/^payload_too_large: /);
  });

  it('refuses unsigned, badly signed and malformed requests with a 4xx and a receipt each', async () => {
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constantFrom(...SLUGS),
          fc.constantFrom(
            'nope',
            'GH',
            'a'.repeat(80),
            '%zz',
            '..',
            'gh%2F..',
            'gh/extra',
            'gh?x=1',
            '-x',
            '%C3%BCn%C3%AF',
            'gh%00',
          ),
        ),
        fc.constantFrom('POST', 'POST', 'POST', 'PUT', 'GET', 'DELETE', 'PATCH'),
        signatureHeaders,
        contentType,
        bodyBytes,
        async (slug, method, headers, type, body) => {
          const all = { ...headers, ...(type ? { 'content-type': type } : {}) };
          const what = `${method} /hooks/${slug} ${JSON.stringify(all)} (${body.length} bytes)`;
          statuses.add(
            await expectRefusedWithReceipt(what, () =>
              send(t.baseUrl, method, `/hooks/${slug}`, all, method === 'GET' ? Buffer.alloc(0) : body),
            ),
          );
        },
      ),
      { numRuns: 250, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000), verbose: 1 },
    );
    // The run reached many different refusals (404, 405, 415, 413, 401, 400, 403...), not one over and over.
    expect(statuses.size).toBeGreaterThanOrEqual(5);
  });

  it('refuses correctly signed but malformed bodies with a 4xx (never a 500) and a receipt each', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...SIGNED_SLUGS), malformedJson, contentType, async (slug, text, type) => {
        const body = Buffer.from(text);
        const headers = {
          'content-type': type && type.includes('json') ? type : 'application/json',
          'x-github-event': 'push',
          'x-hub-signature-256': 'sha256=' + createHmac('sha256', SECRET).update(body).digest('hex'),
        };
        // Valid JSON by chance (`null`, `"x"`, `[]`...) is verified and routed: 202 for the rules source.
        await expectRefusedWithReceipt(
          `signed ${slug} body ${JSON.stringify(text.slice(0, 100))}`,
          () => send(t.baseUrl, 'POST', `/hooks/${slug}`, headers, body),
          (res) => res.status === 202 && slug === 'gh' && isJson(text),
        );
      }),
      { numRuns: 200, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000) },
    );
  });

  it('survives signed, well-formed but hostile JSON (deep, huge, prototype keys) without a 5xx', async () => {
    const hostile = fc.oneof(
      fc.json({ maxDepth: 6 }),
      fc
        .record({ ref: fc.string({ maxLength: 50 }), items: fc.array(fc.string({ maxLength: 20 }), { maxLength: 20 }) })
        .map((o) => JSON.stringify(o)),
      fc.constantFrom(
        '{"ref":"refs/heads/main","items":["a","b"]}',
        '{"ref":"refs/heads/main; rm -rf /"}',
        '{"ref":"refs/heads/main","items":[{"a":1}]}',
        '{"ref":"refs/heads/main","constructor":{"prototype":{"x":1}}}',
        '{"task_id":1e308}',
        '{"task_id":"1"}',
        '{"task_id":-1}',
        '{"task_id":99999999999}',
        '{"ref":"' + 'a'.repeat(3000) + '"}',
      ),
    );
    const before = await receiptCount();
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...SIGNED_SLUGS), hostile, async (slug, text) => {
        const body = Buffer.from(text);
        const res = await send(
          t.baseUrl,
          'POST',
          `/hooks/${slug}`,
          {
            'content-type': 'application/json',
            'x-github-event': 'push',
            'x-hub-signature-256': 'sha256=' + createHmac('sha256', SECRET).update(body).digest('hex'),
          },
          body,
        );
        sent++;
        if (res.status >= 500)
          throw new Error(`${slug} body ${text.slice(0, 200)} answered ${res.status}: ${res.body}`);
        expect([202, 400, 404, 413]).toContain(res.status);
      }),
      { numRuns: 200, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000) },
    );
    expect(await receiptCount()).toBe(before + sent);
  });
});
