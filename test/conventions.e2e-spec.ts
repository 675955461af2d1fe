import { bootApp, type TestApp } from './helpers/app';

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
    expect(res.json).toMatchObject({ statusCode: 404, error: 'Not Found', code: 'not_found', requestId: expect.any(String) });
  });

  it('answers malformed JSON with 400, never 500', async () => {
    const res = await t.request({ method: 'POST', url: '/api/users', token: admin, headers: { 'content-type': 'application/json' }, payload: '{"username": "x",' });
    expect(res.statusCode).toBe(400);
    expect(res.json.code).toBe('bad_request');
  });

  it('answers a body over the limit with 413', async () => {
    const res = await t.request({ method: 'POST', url: '/api/users', token: admin, body: { username: 'big', password: 'x'.repeat(4096), role: 'viewer' } });
    expect(res.statusCode).toBe(413);
    expect(res.json.code).toBe('payload_too_large');
  });

  it('answers a non-JSON body with 415 and a JSON body that is not an object with 400', async () => {
    const text = await t.request({ method: 'POST', url: '/api/users', token: admin, headers: { 'content-type': 'text/plain' }, payload: 'hello' });
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
    for (const [path, item] of Object.entries(doc.json.paths as Record<string, Record<string, { security?: unknown[] }>>)) {
      if (!path.startsWith('/api/')) continue;
      for (const [method, op] of Object.entries(item)) {
        operations.push([method.toUpperCase(), path]);
        if (path === '/api/auth/login') continue;
        expect({ op: `${method} ${path}`, security: op.security }).toEqual({ op: `${method} ${path}`, security: expect.arrayContaining([{ bearer: [] }]) });
      }
    }
    expect(operations.length).toBeGreaterThan(10);
    for (const [method, path] of operations) {
      if (path === '/api/auth/login') continue;
      const url = path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
      const res = await t.request({ method: method as 'GET', url, ...(method === 'GET' || method === 'DELETE' ? {} : { body: {} }) });
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
    for (const path of ['/api/auth/login', '/api/auth/me', '/api/users', '/api/users/{id}', '/api/api-keys', '/api/audit', '/health/ready']) {
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
    expect(Object.keys(hook.post.responses)).toEqual(['200', '202', '400', '401', '403', '404', '405', '413', '415', '429']);
    expect(hook.post.responses['202'].content['application/json'].schema.$ref).toBe('#/components/schemas/HookResponseDto');
    expect(doc.json.components.schemas.HookResponseDto.properties).toHaveProperty('task_ids');
    // Every operation id is unique across the document.
    const ids = Object.values(doc.json.paths as Record<string, Record<string, { operationId?: string }>>).flatMap((item) => Object.values(item).map((op) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('exports Prometheus metrics with request durations by route and status', async () => {
    await t.request({ url: '/api/users', token: admin });
    const res = await t.request({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toMatch(/hookhub_http_request_duration_seconds_count\{method="GET",route="\/api\/users",status="200"\} [1-9]/);
    expect(res.body).toContain('hookhub_process_resident_memory_bytes');
  });
});
