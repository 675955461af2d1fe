import { JwtService } from '@nestjs/jwt';
import { ADMIN_PASSWORD, bootApp, type TestApp } from './helpers/app';

describe('auth: login, tokens and roles (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await bootApp({ HOOKHUB_JWT_SECRET: 'e2e-secret-e2e-secret-e2e-secret-0123456789' });
  });
  afterAll(async () => t?.close());

  const changeOwnPassword = (token: string, current: string) =>
    t.request({
      method: 'PUT',
      url: '/api/auth/password',
      token,
      body: { current_password: current, new_password: 'brand-new-password' },
    });

  it('logs the bootstrap admin in and the token opens /api/auth/me', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/api/auth/login',
      body: { username: 'admin', password: ADMIN_PASSWORD },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600 });
    const me = await t.request({ url: '/api/auth/me', token: res.json.access_token });
    expect(me.statusCode).toBe(200);
    expect(me.json).toMatchObject({ username: 'admin', role: 'admin', auth_type: 'user' });
  });

  it('answers unknown user and wrong password with the same 401', async () => {
    const wrong = await t.request({
      method: 'POST',
      url: '/api/auth/login',
      body: { username: 'admin', password: 'nope-nope' },
    });
    const unknown = await t.request({
      method: 'POST',
      url: '/api/auth/login',
      body: { username: 'ghost', password: 'nope-nope' },
    });
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.json.message).toBe(unknown.json.message);
    expect(wrong.json.code).toBe('invalid_credentials');
    expect(unknown.json.code).toBe('invalid_credentials');
  });

  it('rejects a login body that is not valid with per-field details', async () => {
    const res = await t.request({ method: 'POST', url: '/api/auth/login', body: { username: 42 } });
    expect(res.statusCode).toBe(400);
    expect(res.json.code).toBe('validation_failed');
    const fields = (res.json.details as Array<{ field: string }>).map((d) => d.field).sort();
    expect(fields).toEqual(['password', 'username']);
  });

  it('needs credentials for /api and says how to send them', async () => {
    const res = await t.request({ url: '/api/auth/me' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toContain('Bearer');
    expect(res.json).toMatchObject({ statusCode: 401, code: 'unauthenticated', requestId: expect.any(String) });
  });

  it('refuses tampered, foreign-secret and expired tokens', async () => {
    const token = await t.login();
    const [h, p, s] = token.split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, role: 'admin', sub: '00000000-0000-4000-8000-000000000000' })).toString('base64url')}.${s}`;
    const tamperedSig = `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`;
    const foreign = new JwtService({ secret: 'another-secret-another-secret-another-secret' }).sign(
      { sub: payload.sub, role: 'admin', typ: 'access', pv: payload.pv },
      { issuer: 'hookhub', expiresIn: 600 },
    );
    const expired = new JwtService({ secret: 'e2e-secret-e2e-secret-e2e-secret-0123456789' }).sign(
      {
        sub: payload.sub,
        role: 'admin',
        typ: 'access',
        pv: payload.pv,
        iat: Math.floor(Date.now() / 1000) - 7200,
        exp: Math.floor(Date.now() / 1000) - 3600,
      },
      { issuer: 'hookhub' },
    );
    const valid = new JwtService({ secret: 'e2e-secret-e2e-secret-e2e-secret-0123456789' }).sign(
      { sub: payload.sub, role: 'admin', typ: 'access', pv: payload.pv },
      { issuer: 'hookhub', expiresIn: 600 },
    );
    for (const bad of [forged, tamperedSig, foreign, expired, 'not-a-token']) {
      const res = await t.request({ url: '/api/auth/me', token: bad });
      expect(res.statusCode).toBe(401);
    }
    // The same construction with the right secret works, so the 401s above are about the token.
    expect((await t.request({ url: '/api/auth/me', token: valid })).statusCode).toBe(200);
  });

  it('enforces roles: 403 for a role below the endpoint, 200 at or above it', async () => {
    const viewer = await t.userWithRole('viewer');
    const operator = await t.userWithRole('operator');
    const admin = await t.userWithRole('admin');
    for (const who of [viewer, operator]) {
      const res = await t.request({ url: '/api/users', token: who.token });
      expect(res.statusCode).toBe(403);
      expect(res.json.code).toBe('forbidden');
    }
    expect((await t.request({ url: '/api/users', token: admin.token })).statusCode).toBe(200);
    expect((await t.request({ url: '/api/auth/me', token: viewer.token })).json.role).toBe('viewer');
    expect((await t.request({ url: '/api/audit', token: operator.token })).statusCode).toBe(403);
  });

  it('stops the tokens of a disabled user and of a changed password', async () => {
    const adminToken = await t.login();
    const user = await t.userWithRole('operator');
    expect((await t.request({ url: '/api/auth/me', token: user.token })).statusCode).toBe(200);
    const disabled = await t.request({
      method: 'PATCH',
      url: `/api/users/${user.id}`,
      token: adminToken,
      body: { disabled: true },
    });
    expect(disabled.statusCode).toBe(200);
    expect((await t.request({ url: '/api/auth/me', token: user.token })).statusCode).toBe(401);
    const relogin = await t.request({
      method: 'POST',
      url: '/api/auth/login',
      body: { username: user.username, password: 'user-password-1' },
    });
    expect(relogin.statusCode).toBe(401);

    const other = await t.userWithRole('viewer');
    // No wait: a token from the same second as the change must stop working too.
    const change = await changeOwnPassword(other.token, 'user-password-1');
    expect(change.statusCode).toBe(204);
    expect((await t.request({ url: '/api/auth/me', token: other.token })).statusCode).toBe(401);
    const fresh = await t.login(other.username, 'brand-new-password');
    expect((await t.request({ url: '/api/auth/me', token: fresh })).statusCode).toBe(200);
  });

  it('refuses a password change with the wrong current password', async () => {
    const user = await t.userWithRole('viewer');
    const res = await changeOwnPassword(user.token, 'wrong-password');
    expect(res.statusCode).toBe(400);
    expect(res.json.details[0].field).toBe('current_password');
  });
});

describe('auth: login throttling (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await bootApp({
      HOOKHUB_LOGIN_RATE_LIMIT: '3',
      HOOKHUB_LOGIN_RATE_WINDOW_SECONDS: '60',
      HOOKHUB_TRUST_PROXY: 'true',
    });
  });
  afterAll(async () => t?.close());

  it('limits attempts per username with 429 and Retry-After', async () => {
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 4; i++) {
      last = await t.request({
        method: 'POST',
        url: '/api/auth/login',
        body: { username: 'target-user', password: 'guess' },
        // Different client addresses: the per-username limit must hold anyway.
        headers: { 'x-forwarded-for': `203.0.113.${i}` },
      });
      statuses.push(last.statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
    expect(last!.json.code).toBe('rate_limited');
  });

  it('limits attempts per client address across usernames', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await t.request({
        method: 'POST',
        url: '/api/auth/login',
        body: { username: `someone-${i}`, password: 'guess' },
      });
      statuses.push(res.statusCode);
    }
    // No X-Forwarded-For: every attempt comes from 127.0.0.1, which the first test never used.
    expect(statuses).toEqual([401, 401, 401, 429]);
  });
});
