import { STATUS_CODES } from 'node:http';
import { ERROR_STATUS, type ErrorCode } from '@hookhub/core';
import { bootApp, type TestApp } from './helpers/app';

interface MediaDoc {
  schema?: unknown;
  example?: unknown;
  examples?: Record<string, { value?: unknown }>;
}
interface ResponseDoc {
  description?: string;
  content?: Record<string, MediaDoc>;
  headers?: Record<string, unknown>;
}
interface OperationDoc {
  security?: Array<Record<string, string[]>>;
  responses: Record<string, ResponseDoc>;
}
type PathsDoc = Record<string, Record<string, OperationDoc>>;

/** What is wrong with the examples of an error response documented as `status`. */
function errorExampleProblems(status: number, response: ResponseDoc): string[] {
  const json = response.content?.['application/json'];
  const examples =
    json?.example !== undefined ? [json.example] : Object.values(json?.examples ?? {}).map((e) => e.value);
  if (!json?.schema) return ['no application/json schema'];
  if (!examples.length) return ['no application/json example'];
  const problems: string[] = [];
  for (const example of examples as Array<Record<string, unknown> | undefined>) {
    const code = example?.code;
    if (example?.statusCode !== status) problems.push(`example statusCode ${String(example?.statusCode)}`);
    if (typeof code !== 'string') problems.push('example without a code');
    else if (ERROR_STATUS[code as ErrorCode] !== status)
      problems.push(`example code ${code} is answered with ${ERROR_STATUS[code as ErrorCode]}`);
    if (example?.error !== STATUS_CODES[status]) problems.push(`example error ${String(example?.error)}`);
    if (typeof example?.message !== 'string' || typeof example.requestId !== 'string')
      problems.push('example without a message or requestId');
    const details = example?.details as Array<{ field?: unknown; errors?: unknown }> | undefined;
    if (
      code === 'validation_failed' &&
      !(
        Array.isArray(details) &&
        details.length &&
        details.every((d) => typeof d.field === 'string' && Array.isArray(d.errors))
      )
    ) {
      problems.push('validation_failed example without per-field details');
    }
  }
  if ((status === 429 || status === 503) && !response.headers?.['Retry-After']) problems.push('no Retry-After header');
  return problems;
}

describe('API conventions and operations (e2e)', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await bootApp({ HOOKHUB_API_BODY_LIMIT: '2048' });
    admin = await t.login();
  });
  afterAll(async () => t?.close());

  it('answers unknown routes with a JSON 404', async () => {
    const res = await t.request({ url: '/api/nothing-here', token: admin });
    expect(res.statusCode).toBe(404);
    expect(res.json).toMatchObject({
      statusCode: 404,
      error: 'Not Found',
      code: 'not_found',
      requestId: expect.any(String),
    });
  });

  it('answers malformed JSON with 400, never 500', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/api/users',
      token: admin,
      headers: { 'content-type': 'application/json' },
      payload: '{"username": "x",',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json.code).toBe('bad_request');
  });

  it('answers a body over the limit with 413', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/api/users',
      token: admin,
      body: { username: 'big', password: 'x'.repeat(4096), role: 'viewer' },
    });
    expect(res.statusCode).toBe(413);
    expect(res.json.code).toBe('payload_too_large');
  });

  it('answers a non-JSON body with 415 and a JSON body that is not an object with 400', async () => {
    const text = await t.request({
      method: 'POST',
      url: '/api/users',
      token: admin,
      headers: { 'content-type': 'text/plain' },
      payload: 'hello',
    });
    expect(text.statusCode).toBe(415);
    expect(text.json.code).toBe('unsupported_media_type');
    const array = await t.request({ method: 'POST', url: '/api/users', token: admin, body: [1, 2] });
    expect(array.statusCode).toBe(400);
  });

  it('puts a request id in a response header and in error bodies, keeping a well-formed incoming one', async () => {
    const generated = await t.request({ url: '/api/auth/me' });
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(generated.json.requestId).toBe(generated.headers['x-request-id']);
    const kept = await t.request({ url: '/api/auth/me', headers: { 'x-request-id': 'client-chosen-id-42' } });
    expect(kept.headers['x-request-id']).toBe('client-chosen-id-42');
    expect(kept.json.requestId).toBe('client-chosen-id-42');
    const replaced = await t.request({ url: '/api/auth/me', headers: { 'x-request-id': 'bad id with spaces' } });
    expect(replaced.headers['x-request-id']).not.toBe('bad id with spaces');
  });

  it('guards every /api endpoint but login: 401 without credentials, and documents its auth', async () => {
    const doc = await t.request({ url: '/docs-json' });
    const operations: Array<[string, string]> = [];
    for (const [path, item] of Object.entries(
      doc.json.paths as Record<string, Record<string, { security?: unknown[] }>>,
    )) {
      if (!path.startsWith('/api/')) continue;
      for (const [method, op] of Object.entries(item)) {
        operations.push([method.toUpperCase(), path]);
        if (path === '/api/auth/login') continue;
        expect({ op: `${method} ${path}`, security: op.security }).toEqual({
          op: `${method} ${path}`,
          security: expect.arrayContaining([{ bearer: [] }]),
        });
      }
    }
    expect(operations.length).toBeGreaterThan(10);
    for (const [method, path] of operations) {
      if (path === '/api/auth/login') continue;
      const url = path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
      const res = await t.request({
        method: method as 'GET',
        url,
        ...(method === 'GET' || method === 'DELETE' ? {} : { body: {} }),
      });
      expect(`${method} ${path} -> ${res.statusCode}`).toBe(`${method} ${path} -> 401`);
    }
  });

  it('serves health: live, and ready with the database', async () => {
    const live = await t.request({ url: '/health/live' });
    expect(live.statusCode).toBe(200);
    const ready = await t.request({ url: '/health/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
  });

  it('serves Swagger UI and a document with auth schemes and described DTOs', async () => {
    const ui = await t.request({ url: '/docs' });
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toContain('swagger-ui');
    const doc = await t.request({ url: '/docs-json' });
    expect(doc.statusCode).toBe(200);
    expect(Object.keys(doc.json.components.securitySchemes).sort()).toEqual(['api-key', 'bearer']);
    for (const path of [
      '/api/auth/login',
      '/api/auth/me',
      '/api/users',
      '/api/users/{id}',
      '/api/api-keys',
      '/api/audit',
      '/health/ready',
    ]) {
      expect(doc.json.paths).toHaveProperty([path]);
    }
    const login = doc.json.components.schemas.LoginDto;
    expect(login.required).toEqual(expect.arrayContaining(['username', 'password']));
    expect(login.properties.username.example).toBe('admin');
    const created = doc.json.components.schemas.CreatedApiKeyDto;
    expect(created.properties).toHaveProperty('key');
    expect(doc.json.paths['/api/users'].get.security).toEqual(expect.arrayContaining([{ bearer: [] }]));
    expect(doc.json.paths['/api/users'].get.responses).toHaveProperty('403');
    // The receiver is a plain Fastify route, described by hand: one operation, public, with its schemas.
    const hook = doc.json.paths['/hooks/{slug}'];
    expect(Object.keys(hook)).toEqual(['post']);
    expect(hook.post).toMatchObject({ operationId: 'receiveHook', security: [] });
    expect(Object.keys(hook.post.responses)).toEqual([
      '200',
      '202',
      '400',
      '401',
      '403',
      '404',
      '405',
      '413',
      '415',
      '429',
      '503',
    ]);
    expect(hook.post.responses['202'].content['application/json'].schema.$ref).toBe(
      '#/components/schemas/HookResponseDto',
    );
    expect(doc.json.components.schemas.HookResponseDto.properties).toHaveProperty('task_ids');
    // Every operation id is unique across the document.
    const ids = Object.values(doc.json.paths as Record<string, Record<string, { operationId?: string }>>).flatMap(
      (item) => Object.values(item).map((op) => op.operationId),
    );
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('documents every error response with an example of its own status, every 204 without a body, and the SSE stream', async () => {
    const doc = await t.request<{ paths: PathsDoc }>({ url: '/docs-json' });
    const problems: string[] = [];
    let errorResponses = 0;
    for (const [path, item] of Object.entries(doc.json.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const where = `${method.toUpperCase()} ${path}`;
        // Every admin operation may be refused 401 (login included: a wrong password), 403 when it needs a role,
        // and 503 when the store does not answer (the receiver and readiness too).
        const needed = [
          ...(path.startsWith('/api/') ? ['401'] : []),
          ...(op.security?.some((requirement) => 'bearer' in requirement) ? ['403'] : []),
          ...(path.startsWith('/api/') || path.startsWith('/hooks/') || path === '/health/ready' ? ['503'] : []),
        ];
        for (const status of needed) if (!op.responses[status]) problems.push(`${where}: no ${status} response`);
        for (const [key, response] of Object.entries(op.responses)) {
          const status = Number(key);
          if (status === 204) {
            if (!response.description) problems.push(`${where} 204: no description`);
            if (Object.values(response.content ?? {}).some((media) => media.schema !== undefined))
              problems.push(`${where} 204: a body schema`);
          } else if (status >= 400) {
            errorResponses++;
            problems.push(...errorExampleProblems(status, response).map((problem) => `${where} ${status}: ${problem}`));
          }
        }
      }
    }
    expect(problems).toEqual([]);
    expect(errorResponses).toBeGreaterThan(100);

    // Each status gets the code it stands for, unless the operation says otherwise (login's 401, the receiver's).
    const exampleOf = (path: string, method: string, status: number) =>
      doc.json.paths[path][method].responses[status].content?.['application/json'].example;
    const expected: Array<[string, string, number, string]> = [
      ['/api/users/{id}', 'patch', 401, 'unauthenticated'],
      ['/api/users/{id}', 'patch', 403, 'forbidden'],
      ['/api/users/{id}', 'patch', 404, 'not_found'],
      ['/api/users/{id}', 'patch', 409, 'conflict'],
      ['/api/users/{id}', 'patch', 503, 'store_unavailable'],
      ['/api/events', 'post', 400, 'validation_failed'],
      ['/api/events', 'post', 413, 'payload_too_large'],
      ['/api/auth/login', 'post', 401, 'invalid_credentials'],
      ['/api/auth/login', 'post', 429, 'rate_limited'],
      ['/health/ready', 'get', 503, 'store_unavailable'],
      ['/hooks/{slug}', 'post', 401, 'signature_invalid'],
      ['/hooks/{slug}', 'post', 415, 'unsupported_media_type'],
      ['/hooks/{slug}', 'post', 503, 'store_unavailable'],
    ];
    expect(
      expected.map(([path, method, status]) => [
        path,
        method,
        status,
        (exampleOf(path, method, status) as { code?: string })?.code,
      ]),
    ).toEqual(expected);
    // The admin API's errors are JSON even where its answer is not (the YAML export).
    expect(Object.keys(doc.json.paths['/api/config/export'].get.responses['401'].content ?? {})).toEqual([
      'application/json',
    ]);

    // The task output stream is text/event-stream, with an example of each event it sends.
    const stream = doc.json.paths['/api/tasks/{id}/output'].get.responses['200'].content?.['text/event-stream'];
    expect(stream?.schema).toBeDefined();
    for (const event of ['stdout', 'stderr', 'truncated', 'status', 'end'])
      expect(stream?.example).toContain(`event: ${event}\n`);
  });

  it('exports Prometheus metrics with request durations by route and status', async () => {
    await t.request({ url: '/api/users', token: admin });
    const res = await t.request({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toMatch(
      /hookhub_http_request_duration_seconds_count\{method="GET",route="\/api\/users",status="200"\} [1-9]/,
    );
    expect(res.body).toContain('hookhub_process_resident_memory_bytes');
  });
});
