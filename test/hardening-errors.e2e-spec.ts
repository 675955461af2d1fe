import { JwtService } from '@nestjs/jwt';
import { createHmac, randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { DataSource } from 'typeorm';
import { type TestApp, bootApp } from './helpers/app';
import { PROGRAMS_DIR, create, program } from './helpers/inbound';
import { eventually } from './helpers/receiver';

/** Sends raw bytes on a new connection and returns everything the server wrote before closing it. */
function rawRequest(baseUrl: string, bytes: string): Promise<string> {
  const { port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
    socket.write(bytes);
  });
}

function parseRaw(answer: string): { status: number; headers: Record<string, string>; json: Record<string, unknown> } {
  const [head, ...rest] = answer.split('\r\n\r\n');
  const [statusLine, ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(
    lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
  );
  return {
    status: Number(statusLine.split(' ')[1]),
    headers,
    json: JSON.parse(rest.join('\r\n\r\n')) as Record<string, unknown>,
  };
}

/** Nested `{"not": ...}` conditions, `depth` deep. */
function nested(depth: number, leaf: unknown): unknown {
  let node = leaf;
  for (let i = 0; i < depth; i++) node = { not: node };
  return node;
}

/** No 500 from bad input, and the answers nobody tested (issue: hardening, items 7 and 18). */
describe('hardening: bad input and error answers (e2e)', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await bootApp({
      HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR,
      HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1/32',
      HOOKHUB_JWT_SECRET: 'errors-secret-errors-secret-errors-secret-0123',
    });
    admin = await t.login();
  });
  afterAll(async () => t?.close());

  it('answers a NUL character in any list filter with 400 naming the field, on every list that takes one', async () => {
    const doc = await t.request<{
      paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }> }>>;
    }>({ url: '/docs-json' });
    const lists = Object.entries(doc.json.paths)
      .filter(
        ([path, item]) =>
          path.startsWith('/api/') &&
          !path.includes('{') &&
          item.get?.parameters?.some((p) => p.in === 'query' && p.name === 'q'),
      )
      .map(([path]) => path);
    expect(lists.length).toBeGreaterThanOrEqual(4);
    for (const path of lists) {
      const res = await t.request<{ code: string; details: Array<{ field: string }> }>({
        url: `${path}?q=%00`,
        token: admin,
      });
      expect({ path, status: res.statusCode, code: res.json.code, field: res.json.details?.[0]?.field }).toEqual({
        path,
        status: 400,
        code: 'validation_failed',
        field: 'query.q',
      });
    }
    // In a body too, where Postgres would refuse it.
    const body = await t.request<{ details: Array<{ field: string }> }>({
      method: 'POST',
      url: '/api/event-types',
      token: admin,
      body: { name: 'nul\u0000type' },
    });
    expect([body.statusCode, body.json.details[0].field]).toEqual([400, 'body.name']);
  });

  it('answers a condition or payload filter nested 2,000 deep with 400 and the depth limit', async () => {
    const s = await create(t, admin, '/api/sources', { slug: 'deep', scheme: 'none' });
    const p = await create(t, admin, '/api/programs', { name: 'deep-sync', command: program('sync.sh') });
    const rule = await t.request<{ code: string; message: string }>({
      method: 'POST',
      url: `/api/sources/${s.id}/rules`,
      token: admin,
      body: { name: 'deep', program_id: p.id, condition: nested(2000, true) },
    });
    expect([rule.statusCode, rule.json.code]).toEqual([400, 'validation_failed']);
    expect(rule.json.message).toContain('nests deeper than 32 levels');
    const filter = await t.request<{ code: string }>({
      method: 'POST',
      url: '/api/webhooks',
      token: admin,
      body: { url: 'http://127.0.0.1:9/x', events: ['a.*'], payload_filter: nested(2000, true) },
    });
    expect([filter.statusCode, filter.json.code]).toEqual([400, 'validation_failed']);
    // Within the API's limit but past the condition language's own (12): still a 400 naming the field.
    const twenty = await t.request<{ details: Array<{ field: string; errors: string[] }> }>({
      method: 'POST',
      url: `/api/sources/${s.id}/rules`,
      token: admin,
      body: { name: 'deep', program_id: p.id, condition: nested(20, true) },
    });
    expect(twenty.statusCode).toBe(400);
    expect(twenty.json.details[0]).toMatchObject({
      field: 'condition',
      errors: [expect.stringContaining('nest at most 12 levels')],
    });
  });

  it('answers a well-signed token whose subject is not a user id with 401', async () => {
    const jwt = new JwtService({ secret: 'errors-secret-errors-secret-errors-secret-0123' });
    const valid = await t.request<{ id: string }>({ url: '/api/auth/me', token: admin });
    const me = jwt.decode<{ pv: number }>(admin);
    for (const sub of ['not-a-uuid', '1; DROP TABLE users', '']) {
      const token = jwt.sign({ sub, role: 'admin', typ: 'access', pv: me.pv }, { issuer: 'hookhub', expiresIn: 600 });
      const res = await t.request<{ code: string }>({ url: '/api/auth/me', token });
      expect({ sub, status: res.statusCode, code: res.json.code }).toEqual({
        sub,
        status: 401,
        code: 'unauthenticated',
      });
    }
    // The same construction with the user's id is accepted: the 401s are about the subject.
    const good = jwt.sign(
      { sub: valid.json.id, role: 'admin', typ: 'access', pv: me.pv },
      { issuer: 'hookhub', expiresIn: 600 },
    );
    expect((await t.request({ url: '/api/auth/me', token: good })).statusCode).toBe(200);
  });

  it.each([
    [
      'headers too large',
      `GET /api/auth/me HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
      'headers_too_large',
    ],
    [
      'a header with bytes HTTP does not allow',
      'GET /api/auth/me HTTP/1.1\r\nHost: x\r\nX-Bad\u0001Name: 1\r\n\r\n',
      400,
      'bad_request',
    ],
    [
      'Content-Length with Transfer-Encoding',
      'POST /hooks/x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
      'bad_request',
    ],
  ])('answers %s before routing with the standard error body', async (_name, bytes, status, code) => {
    const res = parseRaw(await rawRequest(t.baseUrl, bytes));
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toContain('application/json');
    expect(res.json).toEqual({
      statusCode: status,
      error: expect.any(String),
      code,
      message: expect.any(String),
      requestId: expect.any(String),
    });
    expect(res.headers['x-request-id']).toBe(res.json.requestId);
  });

  it('records a /hooks request whose client went away before its body arrived (499), and keeps serving', async () => {
    const s = await create(t, admin, '/api/sources', { slug: 'aborted', scheme: 'none' });
    const { port } = new URL(t.baseUrl);
    await new Promise<void>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(
          'POST /hooks/aborted HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"partial":',
        );
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 200);
      });
    });
    const receipt = await eventually(
      async () => {
        const list = await t.request<{ items: Array<{ status_code: number; reason: string; verdict: string }> }>({
          url: `/api/receipts?source_id=${s.id}`,
          token: admin,
        });
        return list.json.items[0];
      },
      10_000,
      'the receipt of the aborted request',
    );
    expect(receipt).toMatchObject({
      status_code: 499,
      verdict: 'rejected',
      reason: expect.stringContaining('client_closed'),
    });
    expect((await t.request({ url: '/health/live' })).statusCode).toBe(200);
  });

  it('answers a stale signed timestamp with 401 timestamp_out_of_window over HTTP, and records why', async () => {
    const s = await create(t, admin, '/api/sources', {
      slug: 'stale-stripe',
      scheme: 'stripe',
      secrets: ['whsec_stale'],
    });
    const body = JSON.stringify({ id: 'evt_stale', type: 'invoice.paid' });
    const t0 = Math.floor(Date.now() / 1000) - 3600;
    const sig = createHmac('sha256', 'whsec_stale').update(`${t0}.${body}`).digest('hex');
    const res = await t.request<{ code: string }>({
      method: 'POST',
      url: '/hooks/stale-stripe',
      headers: { 'content-type': 'application/json', 'stripe-signature': `t=${t0},v1=${sig}` },
      payload: body,
    });
    expect([res.statusCode, res.json.code]).toEqual([401, 'timestamp_out_of_window']);
    const receipts = await t.request<{ items: Array<{ status_code: number; reason: string }> }>({
      url: `/api/receipts?source_id=${s.id}`,
      token: admin,
    });
    expect(receipts.json.items[0]).toMatchObject({
      status_code: 401,
      reason: expect.stringContaining('outside the 300 s replay window'),
    });
  });

  it('answers an unexpected failure with 500, an error id and no internals', async () => {
    const own = await bootApp();
    try {
      const token = await own.login();
      await own.app.get(DataSource).query('DROP TABLE event_types CASCADE');
      const res = await own.request<{ code: string; message: string; errorId: string; requestId: string }>({
        url: '/api/event-types',
        token,
      });
      expect(res.statusCode).toBe(500);
      expect(res.json).toMatchObject({
        statusCode: 500,
        code: 'internal_error',
        errorId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        requestId: res.headers['x-request-id'],
      });
      expect(res.json.message).toBe(
        `An unexpected error occurred; quote error id ${res.json.errorId} when reporting it`,
      );
      expect(res.body).not.toMatch(/event_types|relation|QueryFailed|at /);
    } finally {
      await own.close();
    }
  });

  it('never answers 5xx for an unknown id of any kind', async () => {
    const id = randomUUID();
    for (const url of [
      `/api/sources/${id}`,
      `/api/programs/${id}`,
      `/api/tasks/${id}`,
      `/api/receipts/${id}`,
      `/api/webhooks/${id}`,
      `/api/events/${id}`,
      `/api/event-types/${id}`,
      `/api/users/${id}`,
    ]) {
      const res = await t.request<{ code: string }>({ url, token: admin });
      expect({ url, status: res.statusCode, code: res.json.code }).toEqual({ url, status: 404, code: 'not_found' });
    }
  });
});
