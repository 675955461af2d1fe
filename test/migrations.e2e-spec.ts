import 'reflect-metadata';
import { loadConfig } from '@hookhub/core';
import { MIGRATIONS } from '@hookhub/migrations';
import { StoreRuntime } from '@hookhub/store';
import { createTestDatabase, usingRealPostgres, type TestDatabase } from './helpers/database';

// Two processes sharing one database only exist with a real Postgres; the embedded store serves one.
const onPostgres = usingRealPostgres() ? describe : describe.skip;

onPostgres('migrations under the advisory lock (Postgres)', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  it('lets several processes boot at once: each migration runs exactly once, and all stores work', async () => {
    const config = loadConfig({ NODE_ENV: 'test', ...db.env });
    const stores = await Promise.all([1, 2, 3].map(() => StoreRuntime.open(config, { entities: [], migrations: MIGRATIONS }, true)));
    try {
      const rows = (await stores[0].dataSource.query('SELECT name FROM migrations ORDER BY id')) as Array<{ name: string }>;
      expect(rows.map((r) => r.name)).toEqual(MIGRATIONS.map((m) => m.name));
      for (const store of stores) {
        expect(await store.dataSource.showMigrations()).toBe(false);
        expect(await store.dataSource.query('SELECT count(*)::int AS n FROM users')).toEqual([{ n: 0 }]);
      }
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('reverts and re-applies cleanly', async () => {
    const config = loadConfig({ NODE_ENV: 'test', ...db.env });
    const store = await StoreRuntime.open(config, { entities: [], migrations: MIGRATIONS }, true);
    try {
      const table = async (name: string) => ((await store.dataSource.query(`SELECT to_regclass($1) AS t`, [`public.${name}`])) as Array<{ t: string | null }>)[0].t;
      // Each migration's down removes what its up created, newest first.
      const column = async (tableName: string, name: string) =>
        ((await store.dataSource.query(`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = $1 AND column_name = $2`, [tableName, name])) as Array<{ n: number }>)[0].n;
      expect(await column('sources', 'dedup')).toBe(1);
      await store.dataSource.undoLastMigration();
      expect([await column('sources', 'dedup'), await column('programs', 'env_sealed'), await column('subscriptions', 'headers_sealed')]).toEqual([0, 0, 0]);
      for (const [name, removed] of [['outbound', 'deliveries'], ['inbound and tasks', 'sources'], ['foundation', 'users']]) {
        expect([name, await table(removed)]).toEqual([name, removed]);
        await store.dataSource.undoLastMigration();
        expect([name, await table(removed)]).toEqual([name, null]);
      }
      await store.dataSource.runMigrations();
      expect(await store.dataSource.showMigrations()).toBe(false);
    } finally {
      await store.close();
    }
  });
});

describe('the Hardening migration on receipts stored before it', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  it('redacts every credential header of stored receipts, the source-configured one included, and keeps the rest', async () => {
    const config = loadConfig({ NODE_ENV: 'test', ...db.env });
    const before = await StoreRuntime.open(config, { entities: [], migrations: MIGRATIONS.slice(0, 3) }, true);
    try {
      const [source] = (await before.dataSource.query(
        `INSERT INTO sources (slug, scheme, verification) VALUES ('old-hmac', 'hmac', '{"header": "X-My-Sig"}') RETURNING id`,
      )) as Array<{ id: string }>;
      const insert = `INSERT INTO receipts (id, source_id, slug, method, verdict, status_code, headers) VALUES (gen_random_uuid(), $1, $2, 'POST', 'accepted', 202, $3)`;
      await before.dataSource.query(insert, [source.id, 'old-hmac', JSON.stringify({ 'x-signature': 'default-sig', 'x-my-sig': 'configured-sig', 'x-other': 'kept' })]);
      await before.dataSource.query(insert, [null, 'unknown', JSON.stringify({ 'x-gitlab-token': 'gl-token', 'stripe-signature': 't=1,v1=ab', 'user-agent': 'curl' })]);
    } finally {
      await before.close();
    }
    const after = await StoreRuntime.open(config, { entities: [], migrations: MIGRATIONS }, true);
    try {
      const rows = (await after.dataSource.query(`SELECT slug, headers FROM receipts ORDER BY slug`)) as Array<{ slug: string; headers: Record<string, string> }>;
      expect(rows).toEqual([
        { slug: 'old-hmac', headers: { 'x-signature': '[redacted]', 'x-my-sig': '[redacted]', 'x-other': 'kept' } },
        { slug: 'unknown', headers: { 'x-gitlab-token': '[redacted]', 'stripe-signature': '[redacted]', 'user-agent': 'curl' } },
      ]);
    } finally {
      await after.close();
    }
  });
});
