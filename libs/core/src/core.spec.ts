import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BadRequestException, HttpException } from '@nestjs/common';
import { ConfigError, loadConfig, parseMasterKey } from './config/app-config';
import { HookhubError, ErrorCode } from './errors/error-codes';
import { mapException } from './errors/exception.filter';
import { SecretBox } from './crypto/secret-box';
import { constantTimeEqual, digestEqual, hmac } from './crypto/hmac';
import { containsPattern, decodeCursor, encodeCursor } from './pagination/pagination';
import { flattenValidationErrors } from './http/validation';

describe('loadConfig', () => {
  it('reads the outbound settings and refuses a bad retry schedule', () => {
    const base = { NODE_ENV: 'test', HOOKHUB_DATA_DIR: '/tmp/hookhub-config-test' };
    expect(loadConfig(base).outbound).toMatchObject({
      retrySchedule: [5, 300, 1800, 7200, 18000, 36000, 36000],
      retentionDays: 30,
      maxPayloadBytes: 262144,
      disableAfterSeconds: 432000,
    });
    expect(loadConfig({ ...base, HOOKHUB_RETRY_SCHEDULE: '0.5, 2,10' }).outbound.retrySchedule).toEqual([0.5, 2, 10]);
    expect(() => loadConfig({ ...base, HOOKHUB_RETRY_SCHEDULE: '5,soon' })).toThrow(/HOOKHUB_RETRY_SCHEDULE/);
    expect(() => loadConfig({ ...base, HOOKHUB_RETRY_SCHEDULE: '999999999' })).toThrow(/HOOKHUB_RETRY_SCHEDULE/);
    expect(() => loadConfig({ ...base, HOOKHUB_RETENTION_DAYS: '0' })).toThrow(/HOOKHUB_RETENTION_DAYS/);
  });

  it('reads the per-webhook in-flight default from HOOKHUB_DELIVERY_WEBHOOK_IN_FLIGHT, else from its old name', () => {
    const base = { NODE_ENV: 'test', HOOKHUB_DATA_DIR: '/tmp/hookhub-config-test' };
    const inFlight = (env: Record<string, string>) => loadConfig({ ...base, ...env }).outbound.webhookInFlight;
    expect(inFlight({})).toBe(10);
    expect(inFlight({ HOOKHUB_DELIVERY_WEBHOOK_IN_FLIGHT: '3' })).toBe(3);
    // Deployments written before the rename keep working.
    expect(inFlight({ HOOKHUB_DELIVERY_SUBSCRIPTION_IN_FLIGHT: '4' })).toBe(4);
    expect(inFlight({ HOOKHUB_DELIVERY_SUBSCRIPTION_IN_FLIGHT: '4', HOOKHUB_DELIVERY_WEBHOOK_IN_FLIGHT: '5' })).toBe(5);
    expect(inFlight({ HOOKHUB_DELIVERY_SUBSCRIPTION_IN_FLIGHT: '4', HOOKHUB_DELIVERY_WEBHOOK_IN_FLIGHT: ' ' })).toBe(4);
    // A bad value is reported under the name it was read from; the other name is then not consulted.
    expect(() => inFlight({ HOOKHUB_DELIVERY_SUBSCRIPTION_IN_FLIGHT: '0' })).toThrow(
      /HOOKHUB_DELIVERY_SUBSCRIPTION_IN_FLIGHT must be between 1 and 10000/,
    );
    expect(() =>
      inFlight({ HOOKHUB_DELIVERY_SUBSCRIPTION_IN_FLIGHT: '4', HOOKHUB_DELIVERY_WEBHOOK_IN_FLIGHT: 'many' }),
    ).toThrow(/HOOKHUB_DELIVERY_WEBHOOK_IN_FLIGHT must be an integer/);
  });

  it('reads the admin API rate limit: 6000 a minute by default, 0 for none, never negative', () => {
    const base = { NODE_ENV: 'test', HOOKHUB_DATA_DIR: '/tmp/hookhub-config-test' };
    expect(loadConfig(base).http).toMatchObject({ rateLimit: 6000, rateWindowSeconds: 60 });
    expect(
      loadConfig({ ...base, HOOKHUB_API_RATE_LIMIT: '0', HOOKHUB_API_RATE_WINDOW_SECONDS: '1' }).http,
    ).toMatchObject({ rateLimit: 0, rateWindowSeconds: 1 });
    expect(() => loadConfig({ ...base, HOOKHUB_API_RATE_LIMIT: '-1' })).toThrow(/HOOKHUB_API_RATE_LIMIT/);
    expect(() => loadConfig({ ...base, HOOKHUB_API_RATE_WINDOW_SECONDS: '0' })).toThrow(
      /HOOKHUB_API_RATE_WINDOW_SECONDS/,
    );
  });

  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'hookhub-config-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('applies defaults and generates development secrets once, kept in the data dir', () => {
    const a = loadConfig({ HOOKHUB_DATA_DIR: dir });
    expect(a).toMatchObject({ nodeEnv: 'development', port: 3000, host: '0.0.0.0', logLevel: 'info' });
    expect(a.database.url).toBeUndefined();
    expect(a.masterKey).toHaveLength(32);
    expect(a.secretSources).toEqual({ jwtSecret: 'generated', masterKey: 'generated' });
    const b = loadConfig({ HOOKHUB_DATA_DIR: dir });
    expect(b.auth.jwtSecret).toBe(a.auth.jwtSecret);
    expect(b.masterKey.equals(a.masterKey)).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'secrets.json'), 'utf8'))).toHaveProperty('jwtSecret', a.auth.jwtSecret);
  });

  it('refuses to start in production without explicit secrets, naming both variables', () => {
    expect.assertions(3);
    try {
      loadConfig({ NODE_ENV: 'production', HOOKHUB_DATA_DIR: dir });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message).toContain('HOOKHUB_JWT_SECRET is required');
      expect((err as ConfigError).message).toContain('HOOKHUB_MASTER_KEY is required');
    }
  });

  it('starts in production with explicit secrets and writes nothing to the data dir', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const c = loadConfig({
      NODE_ENV: 'production',
      HOOKHUB_DATA_DIR: dir,
      HOOKHUB_JWT_SECRET: 'x'.repeat(40),
      HOOKHUB_MASTER_KEY: key,
    });
    expect(c.isProduction).toBe(true);
    expect(c.masterKey.equals(Buffer.alloc(32, 7))).toBe(true);
    expect(() => readFileSync(join(dir, 'secrets.json'))).toThrow();
  });

  it('reports every bad variable by name', () => {
    expect.assertions(1);
    try {
      loadConfig({
        HOOKHUB_DATA_DIR: dir,
        PORT: 'eighty',
        DATABASE_URL: 'mysql://x',
        HOOKHUB_MASTER_KEY: 'short',
        HOOKHUB_JWT_SECRET: 'short',
        HOOKHUB_RUN_WORKERS: 'maybe',
        HOOKHUB_LOG_LEVEL: 'loud',
        DATABASE_POOL_SIZE: '0',
        HOOKHUB_CONFIG: join(dir, 'missing.yaml'),
        HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1, 10.0.0.0/33',
      });
    } catch (err) {
      const problems = (err as ConfigError).problems.join('\n');
      expect(
        [
          'PORT',
          'DATABASE_URL',
          'HOOKHUB_MASTER_KEY',
          'HOOKHUB_JWT_SECRET',
          'HOOKHUB_RUN_WORKERS',
          'HOOKHUB_LOG_LEVEL',
          'DATABASE_POOL_SIZE',
          'HOOKHUB_CONFIG',
          'HOOKHUB_OUTBOUND_ALLOW',
        ].filter((v) => !problems.includes(v)),
      ).toEqual([]);
    }
  });

  it('parses trust-proxy settings and master keys in hex and base64', () => {
    expect(loadConfig({ HOOKHUB_DATA_DIR: dir, HOOKHUB_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).http.trustProxy).toEqual(
      ['10.0.0.0/8', '127.0.0.1'],
    );
    expect(loadConfig({ HOOKHUB_DATA_DIR: dir, HOOKHUB_TRUST_PROXY: '2' }).http.trustProxy).toBe(2);
    expect(parseMasterKey('ab'.repeat(32))).toEqual(Buffer.alloc(32, 0xab));
    expect(parseMasterKey(Buffer.alloc(32, 1).toString('base64'))).toEqual(Buffer.alloc(32, 1));
    expect(parseMasterKey('not-a-key')).toBeUndefined();
  });
});

describe('SecretBox', () => {
  const box = new SecretBox(Buffer.alloc(32, 3));

  it('round-trips, randomises and binds the context', () => {
    const sealed = box.seal('whsec_abc', 'row-1');
    expect(sealed).toMatch(/^v1\./);
    expect(sealed).not.toContain('whsec_abc');
    expect(box.seal('whsec_abc', 'row-1')).not.toBe(sealed);
    expect(box.open(sealed, 'row-1')).toBe('whsec_abc');
    expect(() => box.open(sealed, 'row-2')).toThrow();
  });

  it('refuses tampered ciphertexts and another key', () => {
    const sealed = box.seal('secret');
    const raw = Buffer.from(sealed.slice(3), 'base64url');
    raw[raw.length - 1] ^= 1;
    expect(() => box.open(`v1.${raw.toString('base64url')}`)).toThrow();
    expect(() => new SecretBox(Buffer.alloc(32, 4)).open(sealed)).toThrow();
    expect(() => box.open('v0.abc')).toThrow('Unsupported');
  });
});

describe('HMAC helpers against the known-answer vectors', () => {
  const vectors = JSON.parse(readFileSync(join(process.cwd(), 'test', 'fixtures', 'signatures.json'), 'utf8'))
    .vectors as Array<{
    scheme: string;
    secret: string;
    body: string;
    headers: Record<string, string>;
  }>;
  const byScheme = (s: string) => vectors.find((v) => v.scheme === s)!;

  it.each([
    ['github', 'sha256', 'hex', 'X-Hub-Signature-256', 'sha256='],
    ['github-sha1-legacy', 'sha1', 'hex', 'X-Hub-Signature', 'sha1='],
    ['shopify', 'sha256', 'base64', 'X-Shopify-Hmac-Sha256', ''],
    ['hmac-sha256-base64-body', 'sha256', 'base64', 'X-Signature', ''],
    ['hmac-sha256-hex-prefixed', 'sha256', 'hex', 'X-Hub-Signature-256', 'sha256='],
  ] as const)('%s', (scheme, alg, enc, header, prefix) => {
    const v = byScheme(scheme);
    const expected = v.headers[header];
    const actual = prefix + hmac(alg, v.secret, Buffer.from(v.body, 'utf8'), enc);
    expect(constantTimeEqual(actual, expected)).toBe(true);
    expect(constantTimeEqual(actual, expected.slice(0, -1) + (expected.endsWith('0') ? '1' : '0'))).toBe(false);
  });

  it('compares strings of different lengths without throwing', () => {
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
  });

  it('compares a presented digest with the expected one: equal, one character off, other lengths, non-ASCII', () => {
    const expected = 'sha256=' + hmac('sha256', 'k', 'body', 'hex');
    expect(digestEqual(expected, expected)).toBe(true);
    expect(digestEqual(expected.slice(0, -1) + (expected.endsWith('0') ? '1' : '0'), expected)).toBe(false);
    expect(digestEqual(expected.slice(0, -1), expected)).toBe(false);
    expect(digestEqual(expected + '0', expected)).toBe(false);
    // Same number of characters, more bytes: still a clean false, never a throw.
    expect(digestEqual(expected.slice(0, -1) + 'é', expected)).toBe(false);
    expect(digestEqual('', expected)).toBe(false);
  });
});

describe('exception mapping', () => {
  it('maps domain errors by code, keeping details and headers', () => {
    const mapped = mapException(new HookhubError(ErrorCode.RateLimited, 'slow down', { a: 1 }, { 'Retry-After': '5' }));
    expect(mapped).toEqual({
      status: 429,
      code: 'rate_limited',
      message: 'slow down',
      details: { a: 1 },
      headers: { 'Retry-After': '5' },
    });
    expect(mapException(HookhubError.notFound('User', 'x'))).toMatchObject({
      status: 404,
      message: 'User x not found',
    });
  });

  it("maps Fastify's client errors to 4xx", () => {
    expect(
      mapException(Object.assign(new Error('too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }))
        ?.status,
    ).toBe(413);
    expect(
      mapException(Object.assign(new Error('type'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }))
        ?.status,
    ).toBe(415);
    expect(mapException(Object.assign(new SyntaxError('Unexpected token'), { statusCode: 400 }))).toMatchObject({
      status: 400,
      message: 'Malformed JSON body',
    });
  });

  it('maps HTTP exceptions below 500 and leaves everything else to the 500 path', () => {
    expect(mapException(new BadRequestException('nope'))).toMatchObject({
      status: 400,
      code: 'bad_request',
      message: 'nope',
    });
    expect(mapException(new HttpException('boom', 502))).toBeUndefined();
    expect(mapException(new Error('database exploded'))).toBeUndefined();
    expect(mapException('a string')).toBeUndefined();
  });
});

describe('pagination cursors and validation details', () => {
  it('builds ILIKE patterns in which %, _ and backslash match only themselves', () => {
    expect(containsPattern('deploy')).toBe('%deploy%');
    expect(containsPattern('50%_off\\x')).toBe('%50\\%\\_off\\\\x%');
  });

  it('round-trips a cursor and refuses a forged one with 400', () => {
    const at = new Date('2026-11-23T12:00:00.123Z');
    const id = '3f1c2d9e-5b0a-4c4f-9f7e-2a1b3c4d5e6f';
    expect(decodeCursor(encodeCursor(at, id))).toEqual({ t: at.toISOString(), id });
    for (const bad of [
      'garbage',
      Buffer.from('{"t":"x","id":"y"}').toString('base64url'),
      Buffer.from('{"t":"2026-01-01T00:00:00Z","id":"1; DROP TABLE"}').toString('base64url'),
    ]) {
      expect(() => decodeCursor(bad)).toThrow(HookhubError);
    }
  });

  it('flattens nested validation errors to dotted field paths', () => {
    const details = flattenValidationErrors([
      { property: 'name', constraints: { isString: 'name must be a string' }, children: [] },
      {
        property: 'items',
        children: [
          { property: '0', children: [{ property: 'url', constraints: { isUrl: 'url must be a URL' }, children: [] }] },
        ],
      },
    ]);
    expect(details).toEqual([
      { field: 'name', errors: ['name must be a string'] },
      { field: 'items[0].url', errors: ['url must be a URL'] },
    ]);
  });
});
