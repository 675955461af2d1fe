import { randomBytes } from 'node:crypto';
import { ThrottlerStorage } from '@nestjs/throttler';
import { RedisThrottlerStorage } from '@hookhub/core';
import { ADMIN_PASSWORD, type Reply, type TestApp, bootApp } from './helpers/app';
import { create, githubSignature } from './helpers/inbound';

const SECRET = 'throttle-secret';

interface ErrorJson {
  statusCode: number;
  error: string;
  code: string;
  message: string;
  details?: { retry_after_seconds?: number };
  requestId: string;
}

/** A login from `address` (X-Forwarded-For: the apps trust proxies); returns the reply. */
function loginFrom(
  t: TestApp,
  address: string,
  username: string,
  password: string,
): Promise<Reply<{ access_token: string } & ErrorJson>> {
  return t.request({
    method: 'POST',
    url: '/api/auth/login',
    body: { username, password },
    headers: { 'x-forwarded-for': address },
  });
}

async function tokenFrom(t: TestApp, address: string, username: string, password: string): Promise<string> {
  const res = await loginFrom(t, address, username, password);
  if (res.statusCode !== 200) throw new Error(`login as ${username} failed: ${res.statusCode} ${res.body}`);
  return res.json.access_token;
}

/** A trigger to a github source, signed; no rule matches it, so it is answered 202. */
function hook(t: TestApp, slug: string, headers: Record<string, string> = {}): Promise<Reply<ErrorJson>> {
  const body = `{"at": ${Date.now()}}`;
  return t.request({
    method: 'POST',
    url: `/hooks/${slug}`,
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': githubSignature(SECRET, body), ...headers },
    payload: body,
  });
}

/**
 * The 429 every throttled answer gives: Retry-After (the block lasts one window from the request that went
 * over), and the error body with its request id; the admin API's also says the wait in `details`.
 */
function expectRateLimited(
  res: Reply<ErrorJson>,
  message: string,
  { windowSeconds = 60, receiver = false } = {},
): void {
  expect(res.statusCode).toBe(429);
  const retryAfter = Number(res.headers['retry-after']);
  expect(retryAfter).toBeGreaterThan(windowSeconds - 10);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
  expect(res.json).toEqual({
    statusCode: 429,
    error: 'Too Many Requests',
    code: 'rate_limited',
    message,
    ...(receiver ? {} : { details: { retry_after_seconds: retryAfter } }),
    requestId: res.headers['x-request-id'],
  });
}

describe('admin API throttling (e2e)', () => {
  const LIMIT = 6;
  let t: TestApp;
  let admin: string;
  let viewers: string[];
  let apiKey: string;

  beforeAll(async () => {
    t = await bootApp({
      HOOKHUB_API_RATE_LIMIT: String(LIMIT),
      HOOKHUB_API_RATE_WINDOW_SECONDS: '60',
      HOOKHUB_TRUST_PROXY: 'true',
    });
    // Each login from its own address: requests without credentials count per address.
    admin = await tokenFrom(t, '198.51.100.1', 'admin', ADMIN_PASSWORD);
    // The admin makes 5 requests here, one less than its limit.
    viewers = [];
    for (const [i, name] of ['viewer-a', 'viewer-b'].entries()) {
      await create(t, admin, '/api/users', { username: name, password: 'user-password-1', role: 'viewer' });
      viewers.push(await tokenFrom(t, `198.51.100.${10 + i}`, name, 'user-password-1'));
    }
    apiKey = (await create<{ key: string }>(t, admin, '/api/api-keys', { name: 'throttled script' })).key;
    await create(t, admin, '/api/sources', { slug: 'busy', scheme: 'github', secrets: [SECRET], rate_limit: 100 });
    await create(t, admin, '/api/sources', { slug: 'slow', scheme: 'github', secrets: [SECRET], rate_limit: 2 });
  });
  afterAll(async () => t?.close());

  it('lets a user make HOOKHUB_API_RATE_LIMIT requests a window over all endpoints, then answers 429 with Retry-After', async () => {
    const remaining: Array<string | undefined> = [];
    for (let i = 0; i < LIMIT; i++) {
      const res = await t.request({ url: i % 2 ? '/api/auth/me' : '/api/sources', token: viewers[0] });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-ratelimit-limit']).toBe(String(LIMIT));
      remaining.push(res.headers['x-ratelimit-remaining'] as string | undefined);
    }
    expect(remaining).toEqual(['5', '4', '3', '2', '1', '0']);
    const limited = await t.request<ErrorJson>({ url: '/api/auth/me', token: viewers[0] });
    expectRateLimited(limited, `Over the limit of ${LIMIT} API requests in 60 seconds; try again later`);
    // Every endpoint: the count is the caller's, not the endpoint's.
    expect((await t.request({ url: '/api/sources', token: viewers[0] })).statusCode).toBe(429);
  });

  it('counts each principal apart: another user and an API key are not limited by the first', async () => {
    expect((await t.request({ url: '/api/auth/me', token: viewers[1] })).statusCode).toBe(200);
    // The key's creator (admin) has used 5 of its 6 requests; the key counts on its own.
    const statuses: number[] = [];
    for (let i = 0; i <= LIMIT; i++)
      statuses.push((await t.request({ url: '/api/auth/me', headers: { 'x-api-key': apiKey } })).statusCode);
    expect(statuses).toEqual([...Array<number>(LIMIT).fill(200), 429]);
    expect((await t.request({ url: '/api/auth/me', token: admin })).statusCode).toBe(200);
  });

  it('counts requests without credentials per client address', async () => {
    const statuses: number[] = [];
    let last: Reply<ErrorJson> | undefined;
    for (let i = 0; i <= LIMIT; i++) {
      last = await loginFrom(t, '203.0.113.50', `nobody-${i}`, 'wrong-password');
      statuses.push(last.statusCode);
    }
    expect(statuses).toEqual([...Array<number>(LIMIT).fill(401), 429]);
    expectRateLimited(last!, `Over the limit of ${LIMIT} API requests in 60 seconds; try again later`);
    expect((await loginFrom(t, '203.0.113.51', 'nobody', 'wrong-password')).statusCode).toBe(401);
  });

  it('does not throttle the receiver, health, metrics or docs', async () => {
    const from = { 'x-forwarded-for': '203.0.113.60' };
    for (let i = 0; i < LIMIT + 2; i++) {
      for (const url of ['/health/live', '/metrics', '/docs-json'])
        expect([url, (await t.request({ url, headers: from })).statusCode]).toEqual([url, 200]);
      expect((await hook(t, 'busy', from)).statusCode).toBe(202);
    }
  });

  it('limits a source to its rate_limit a minute, apart from the other sources, with the same 429', async () => {
    for (let i = 0; i < 2; i++) expect((await hook(t, 'slow')).statusCode).toBe(202);
    const limited = await hook(t, 'slow');
    expectRateLimited(limited, 'Over the limit of 2 requests a minute', { receiver: true });
    expect((await hook(t, 'busy')).statusCode).toBe(202);
  });
});

describe('login throttling: messages and bodies (e2e)', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await bootApp({
      HOOKHUB_LOGIN_RATE_LIMIT: '3',
      HOOKHUB_LOGIN_RATE_WINDOW_SECONDS: '30',
      HOOKHUB_TRUST_PROXY: 'true',
    });
    admin = await tokenFrom(t, '192.0.2.1', 'admin', ADMIN_PASSWORD);
    await create(t, admin, '/api/users', { username: 'victim', password: 'user-password-1', role: 'viewer' });
  });
  afterAll(async () => t?.close());

  it('limits attempts per username, from any address, even with the right password once over', async () => {
    for (let i = 0; i < 3; i++)
      expect((await loginFrom(t, `192.0.2.${10 + i}`, 'Victim', 'wrong-password')).statusCode).toBe(401);
    expectRateLimited(
      await loginFrom(t, '192.0.2.20', 'victim', 'user-password-1'),
      'Too many login attempts for this user; try again later',
      { windowSeconds: 30 },
    );
    // Another username from another address is not limited.
    expect((await loginFrom(t, '192.0.2.21', 'someone-else', 'wrong-password')).statusCode).toBe(401);
  });

  it('limits attempts per client address, whatever the usernames', async () => {
    for (let i = 0; i < 3; i++)
      expect((await loginFrom(t, '192.0.2.200', `user-${i}`, 'wrong-password')).statusCode).toBe(401);
    expectRateLimited(
      await loginFrom(t, '192.0.2.200', 'user-9', 'wrong-password'),
      'Too many login attempts from this address; try again later',
      { windowSeconds: 30 },
    );
    // The login limits are login's only: from that address, the rest of the API still answers.
    expect(
      (await t.request({ url: '/api/auth/me', token: admin, headers: { 'x-forwarded-for': '192.0.2.200' } }))
        .statusCode,
    ).toBe(200);
  });
});

// Needs a Redis server; CI starts one and sets HOOKHUB_TEST_REDIS_URL.
const redisUrl = process.env.HOOKHUB_TEST_REDIS_URL;
(redisUrl ? describe : describe.skip)('throttling shared through Redis by two instances (e2e)', () => {
  const LIMIT = 4;
  let a: TestApp;
  let b: TestApp;
  // Addresses of this run only: the counts in Redis outlive the apps for a window.
  const address = () => `198.18.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;

  async function connected(t: TestApp): Promise<RedisThrottlerStorage> {
    const storage = t.app.get<RedisThrottlerStorage>(ThrottlerStorage);
    expect(storage).toBeInstanceOf(RedisThrottlerStorage);
    for (let i = 0; i < 100 && !storage.ready; i++) await new Promise((r) => setTimeout(r, 20));
    expect(storage.ready).toBe(true);
    return storage;
  }

  beforeAll(async () => {
    const env = { REDIS_URL: redisUrl!, HOOKHUB_API_RATE_LIMIT: String(LIMIT), HOOKHUB_TRUST_PROXY: 'true' };
    // Each instance on its own database: what they share is Redis.
    [a, b] = [await bootApp(env), await bootApp(env)];
    await Promise.all([connected(a), connected(b)]);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('counts requests split across both instances together', async () => {
    const from = address();
    const statuses: number[] = [];
    for (let i = 0; i <= LIMIT; i++)
      statuses.push((await loginFrom(i % 2 ? b : a, from, 'nobody', 'wrong-password')).statusCode);
    // Each instance saw at most 3 of them: alone, neither would refuse.
    expect(statuses).toEqual([...Array<number>(LIMIT).fill(401), 429]);
    const blocked = await loginFrom(a, from, 'nobody', 'wrong-password');
    expectRateLimited(blocked, `Over the limit of ${LIMIT} API requests in 60 seconds; try again later`);
    // Another address is not limited, on either instance.
    expect((await loginFrom(b, address(), 'nobody', 'wrong-password')).statusCode).toBe(401);
  });

  it("counts a source's triggers in the same store, so another instance's hits count too", async () => {
    const admin = await tokenFrom(a, address(), 'admin', ADMIN_PASSWORD);
    const source = await create(a, admin, '/api/sources', {
      slug: 'shared',
      scheme: 'github',
      secrets: [SECRET],
      rate_limit: 3,
    });
    for (let i = 0; i < 2; i++) expect((await hook(a, 'shared')).statusCode).toBe(202);
    // The third hit of the minute comes from the other instance (the source is not in its database, so its
    // store stands in for its receiver): the receiver's count is the shared one.
    const third = await (await connected(b)).increment(`source:${source.id}`, 60_000, 3, 60_000, 'receiver');
    expect(third).toMatchObject({ totalHits: 3, isBlocked: false });
    expectRateLimited(await hook(a, 'shared'), 'Over the limit of 3 requests a minute', { receiver: true });
  });
});
