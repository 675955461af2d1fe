import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_PASSWORD, bootApp } from './helpers/app';
import { createTestDatabase, type TestDatabase } from './helpers/database';

/** The embedded store (PGlite over pglite-socket), always, whatever DATABASE_URL says. */
describe('embedded store (e2e)', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase({ embedded: true });
  });
  afterAll(async () => db?.drop());

  it('keeps users, API keys, the audit log and the dev secrets across a restart', async () => {
    const first = await bootApp({}, { db });
    const admin = await first.login();
    const user = await first.request({
      method: 'POST',
      url: '/api/users',
      token: admin,
      body: { username: 'survivor', password: 'survivor-pass', role: 'operator' },
    });
    expect(user.statusCode).toBe(201);
    const key = await first.request({
      method: 'POST',
      url: '/api/api-keys',
      token: admin,
      body: { name: 'persisted' },
    });
    expect(key.statusCode).toBe(201);
    await first.close();

    const secretsFile = join(db.env.HOOKHUB_DATA_DIR, 'secrets.json');
    expect(existsSync(secretsFile)).toBe(true);
    expect(statSync(secretsFile).mode & 0o777).toBe(0o600);
    const secrets = readFileSync(secretsFile, 'utf8');
    expect(existsSync(join(db.env.HOOKHUB_DATA_DIR, 'pgdata.lock'))).toBe(false);

    const second = await bootApp({ HOOKHUB_ADMIN_PASSWORD: 'a-different-one' }, { db });
    try {
      // Same JWT secret: a token from before the restart still works.
      expect((await second.request({ url: '/api/auth/me', token: admin })).statusCode).toBe(200);
      expect(await second.login('survivor', 'survivor-pass')).toEqual(expect.any(String));
      // The bootstrap admin is not re-created with the new password.
      expect(await second.login('admin', ADMIN_PASSWORD)).toEqual(expect.any(String));
      expect((await second.request({ url: '/api/auth/me', token: key.json.key })).json.api_key_id).toBe(key.json.id);
      const audit = await second.request({ url: '/api/audit?action=user.create', token: admin });
      expect(audit.json.items.map((e: { target_id: string }) => e.target_id)).toContain(user.json.id);
      expect(readFileSync(secretsFile, 'utf8')).toBe(secrets);
    } finally {
      await second.close();
    }
  });

  it('serves concurrent requests with transactions correctly over the socket pool', async () => {
    const t = await bootApp({ HOOKHUB_EMBEDDED_POOL_SIZE: '5' }, { db });
    try {
      const admin = await t.login();
      const n = 60;
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          i % 3 === 0
            ? t.request({
                method: 'POST',
                url: '/api/users',
                token: admin,
                body: { username: `burst-${i}`, password: 'burst-password', role: 'viewer' },
              })
            : i % 3 === 1
              ? t.request({ url: '/api/users?limit=5', token: admin })
              : t.request({ method: 'POST', url: '/api/api-keys', token: admin, body: { name: `burst-${i}` } }),
        ),
      );
      expect(results.map((r) => r.statusCode).filter((s) => s >= 300)).toEqual([]);
      const count = await t.request({ url: '/api/users?q=burst-', token: admin });
      expect(count.json.total).toBe(n / 3);
      // Transactions that lock rows (last-admin check) interleaved with other traffic.
      const viewers = (await t.request({ url: '/api/users?q=burst-&limit=200', token: admin })).json.items as Array<{
        id: string;
      }>;
      const updates = await Promise.all(
        viewers.map((v, i) =>
          Promise.all([
            t.request({
              method: 'PATCH',
              url: `/api/users/${v.id}`,
              token: admin,
              body: { role: i % 2 ? 'operator' : 'viewer' },
            }),
            t.request({ url: '/health/ready' }),
          ]),
        ),
      );
      expect(
        updates
          .flat()
          .map((r) => r.statusCode)
          .filter((s) => s !== 200),
      ).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
