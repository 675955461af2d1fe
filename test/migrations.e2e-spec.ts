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
    const stores = await Promise.all([1, 2, 3].map(() => StoreRuntime.open(config, { migrations: MIGRATIONS }, true)));
    try {
      const rows = (await stores[0].dataSource.query('SELECT name FROM migrations ORDER BY id')) as Array<{
        name: string;
      }>;
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
    const store = await StoreRuntime.open(config, { migrations: MIGRATIONS }, true);
    try {
      const table = async (name: string) =>
        (
          (await store.dataSource.query(`SELECT to_regclass($1) AS t`, [`public.${name}`])) as Array<{
            t: string | null;
          }>
        )[0].t;
      // Each migration's down removes what its up created, newest first.
      const column = async (tableName: string, name: string) =>
        (
          (await store.dataSource.query(
            `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = $1 AND column_name = $2`,
            [tableName, name],
          )) as Array<{ n: number }>
        )[0].n;
      const indexes = async (tableName: string) =>
        (
          (await store.dataSource.query(`SELECT indexname FROM pg_indexes WHERE tablename = $1 ORDER BY indexname`, [
            tableName,
          ])) as Array<{ indexname: string }>
        ).map((r) => r.indexname);
      // Migrations after WebhookNames (execution nodes, shared limits) are undone down to TaskQueues first;
      // tests of their own check what they add.
      while (
        (
          (await store.dataSource.query(`SELECT name FROM migrations ORDER BY id DESC LIMIT 1`)) as Array<{
            name: string;
          }>
        )[0].name !== 'TaskQueues1764600000000'
      )
        await store.dataSource.undoLastMigration();
      // TaskQueues: task runs get a queue, a parking place and their worker, with the claim's indexes.
      expect(
        await Promise.all(['queue', 'parked_on', 'worker_id', 'worker_hostname'].map((c) => column('task_runs', c))),
      ).toEqual([1, 1, 1, 1]);
      expect((await indexes('task_runs')).filter((i) => /claim|lease|running_|parked_|_due$/.test(i))).toEqual([
        'idx_task_runs_claim',
        'idx_task_runs_lease',
        'idx_task_runs_parked_key',
        'idx_task_runs_parked_program',
        'idx_task_runs_running_key',
        'idx_task_runs_running_program',
      ]);
      await store.dataSource.undoLastMigration();
      expect(
        await Promise.all(['queue', 'parked_on', 'worker_id', 'worker_hostname'].map((c) => column('task_runs', c))),
      ).toEqual([0, 0, 0, 0]);
      expect((await indexes('task_runs')).filter((i) => /claim|lease|running_|parked_|_due$/.test(i))).toEqual([
        'idx_task_runs_due',
      ]);
      // WebhookNames: the store says webhook like the API; the revert brings back every subscription name.
      const subscriptionNames = async () =>
        (
          (await store.dataSource.query(
            `SELECT relname AS name FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname LIKE '%subscription%'
             UNION ALL SELECT conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conname LIKE '%subscription%'
             UNION ALL SELECT table_name || '.' || column_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name LIKE '%subscription%'`,
          )) as Array<{ name: string }>
        )
          .map((r) => r.name)
          .sort();
      expect([await table('webhooks'), await table('subscriptions')]).toEqual(['webhooks', null]);
      expect([await column('deliveries', 'webhook_id'), await column('delivery_attempts', 'webhook_id')]).toEqual([
        1, 1,
      ]);
      expect(await subscriptionNames()).toEqual([]);
      expect(await indexes('webhooks')).toEqual(['idx_webhooks_created', 'idx_webhooks_filters', 'webhooks_pkey']);
      await store.dataSource.undoLastMigration();
      expect([await table('webhooks'), await table('subscriptions')]).toEqual([null, 'subscriptions']);
      expect([
        await column('deliveries', 'subscription_id'),
        await column('delivery_attempts', 'subscription_id'),
        await column('deliveries', 'webhook_id'),
      ]).toEqual([1, 1, 0]);
      expect(await indexes('subscriptions')).toEqual([
        'idx_subscriptions_created',
        'idx_subscriptions_filters',
        'subscriptions_pkey',
      ]);
      // The pkey appears twice: as a constraint and as its index.
      expect(await subscriptionNames()).toEqual([
        'deliveries.subscription_id',
        'deliveries_subscription_id_fkey',
        'delivery_attempts.subscription_id',
        'delivery_attempts_subscription_id_fkey',
        'idx_deliveries_subscription_created',
        'idx_delivery_attempts_subscription_created',
        'idx_subscriptions_created',
        'idx_subscriptions_filters',
        'subscriptions',
        'subscriptions_body_format_check',
        'subscriptions_max_in_flight_check',
        'subscriptions_max_per_second_check',
        'subscriptions_pkey',
        'subscriptions_pkey',
        'subscriptions_timeout_ms_check',
      ]);
      // FormatsFromRegistry: signature formats are not listed in the store; the revert lists them again.
      const formatCheck = async () =>
        (
          (await store.dataSource.query(
            `SELECT count(*)::int AS n FROM pg_constraint WHERE conname = 'subscriptions_signature_format_check'`,
          )) as Array<{ n: number }>
        )[0].n;
      expect(await formatCheck()).toBe(0);
      await store.dataSource.undoLastMigration();
      expect(await formatCheck()).toBe(1);
      expect(await table('queue_jobs')).toBeNull();
      await store.dataSource.undoLastMigration();
      // Reverting DropQueueJobs brings the table back as Foundation made it, indexes included.
      expect(await table('queue_jobs')).toBe('queue_jobs');
      expect(await indexes('queue_jobs')).toEqual([
        'idx_queue_jobs_due',
        'idx_queue_jobs_finished',
        'idx_queue_jobs_lease',
        'queue_jobs_pkey',
      ]);
      expect(await column('sources', 'dedup')).toBe(1);
      await store.dataSource.undoLastMigration();
      expect([
        await column('sources', 'dedup'),
        await column('programs', 'env_sealed'),
        await column('subscriptions', 'headers_sealed'),
      ]).toEqual([0, 0, 0]);
      for (const [name, removed] of [
        ['outbound', 'deliveries'],
        ['inbound and tasks', 'sources'],
        ['foundation', 'users'],
      ]) {
        expect([name, await table(removed)]).toEqual([name, removed]);
        await store.dataSource.undoLastMigration();
        expect([name, await table(removed)]).toEqual([name, null]);
      }
      // Foundation's down dropped the table its up made and DropQueueJobs' down made again.
      expect(await table('queue_jobs')).toBeNull();
      await store.dataSource.runMigrations();
      expect(await store.dataSource.showMigrations()).toBe(false);
      expect([await table('users'), await table('queue_jobs')]).toEqual(['users', null]);
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
    const before = await StoreRuntime.open(config, { migrations: MIGRATIONS.slice(0, 3) }, true);
    try {
      const [source] = (await before.dataSource.query(
        `INSERT INTO sources (slug, scheme, verification) VALUES ('old-hmac', 'hmac', '{"header": "X-My-Sig"}') RETURNING id`,
      )) as Array<{ id: string }>;
      const insert = `INSERT INTO receipts (id, source_id, slug, method, verdict, status_code, headers) VALUES (gen_random_uuid(), $1, $2, 'POST', 'accepted', 202, $3)`;
      await before.dataSource.query(insert, [
        source.id,
        'old-hmac',
        JSON.stringify({ 'x-signature': 'default-sig', 'x-my-sig': 'configured-sig', 'x-other': 'kept' }),
      ]);
      await before.dataSource.query(insert, [
        null,
        'unknown',
        JSON.stringify({ 'x-gitlab-token': 'gl-token', 'stripe-signature': 't=1,v1=ab', 'user-agent': 'curl' }),
      ]);
    } finally {
      await before.close();
    }
    const after = await StoreRuntime.open(config, { migrations: MIGRATIONS }, true);
    try {
      const rows = (await after.dataSource.query(`SELECT slug, headers FROM receipts ORDER BY slug`)) as Array<{
        slug: string;
        headers: Record<string, string>;
      }>;
      expect(rows).toEqual([
        { slug: 'old-hmac', headers: { 'x-signature': '[redacted]', 'x-my-sig': '[redacted]', 'x-other': 'kept' } },
        {
          slug: 'unknown',
          headers: { 'x-gitlab-token': '[redacted]', 'stripe-signature': '[redacted]', 'user-agent': 'curl' },
        },
      ]);
    } finally {
      await after.close();
    }
  });
});
