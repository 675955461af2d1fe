import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { type AppConfig, MemorySharedCounter, RedisSharedCounter, type SharedCounter } from '@hookhub/core';
import { MIGRATIONS } from '@hookhub/migrations';
import { Db } from '../db';
import { StoreServer } from '../store.runtime';
import { PgSharedCounter, createSharedCounter } from './shared-counter.store';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const freshKey = () => `test:${randomBytes(4).toString('hex')}`;

/**
 * What every counter must do. `pair` makes two counters on the same store (two processes sharing it; one
 * process twice for memory); windows are the store's clock, so the tests wait for what the counter says.
 */
function behavesAsASharedCounter(pair: () => Promise<[SharedCounter, SharedCounter]>): void {
  it('takes up to the limit in a window, then refuses without counting, saying when the oldest hit leaves', async () => {
    const [c] = await pair();
    const key = freshKey();
    const taken = [];
    for (let i = 0; i < 3; i++) taken.push(await c.hit(key, 60_000, 3));
    expect(taken.map((h) => [h.allowed, h.count, h.retryAfterMs])).toEqual([
      [true, 1, 0],
      [true, 2, 0],
      [true, 3, 0],
    ]);
    expect(taken[2].oldestMs).toBe(taken[0].oldestMs);
    const refused = await c.hit(key, 60_000, 3);
    expect(refused).toMatchObject({ allowed: false, count: 3, oldestMs: taken[0].oldestMs });
    expect(refused.retryAfterMs).toBeGreaterThan(50_000);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000);
    // Refusals are not counted: the count stays at the limit.
    expect(await c.hit(key, 60_000, 3)).toMatchObject({ allowed: false, count: 3 });
    // Another key has its own window.
    expect(await c.hit(freshKey(), 60_000, 3)).toMatchObject({ allowed: true, count: 1 });
  });

  it('slides: a hit is taken again once the oldest has left the window, and only one', async () => {
    const [c] = await pair();
    const key = freshKey();
    expect((await c.hit(key, 300, 2)).allowed).toBe(true);
    expect((await c.hit(key, 300, 2)).allowed).toBe(true);
    const refused = await c.hit(key, 300, 2);
    expect(refused.allowed).toBe(false);
    await sleep(refused.retryAfterMs + 20);
    const again = await c.hit(key, 300, 2);
    expect(again).toMatchObject({ allowed: true });
    expect(again.count).toBeLessThanOrEqual(2);
    // Both earlier hits came before `again` by less than the wait, so at most one slot freed.
    if (again.count === 2) expect((await c.hit(key, 300, 2)).allowed).toBe(false);
  });

  it('counts the hits of both sharers together, and never takes more than the limit when they race', async () => {
    const [a, b] = await pair();
    const key = freshKey();
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).hit(key, 60_000, 7)));
    expect(answers.filter((h) => h.allowed)).toHaveLength(7);
    expect(
      answers
        .filter((h) => h.allowed)
        .map((h) => h.count)
        .sort((x, y) => x - y),
    ).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect((await a.hit(key, 60_000, 7)).allowed).toBe(false);
    expect((await b.hit(key, 60_000, 7)).allowed).toBe(false);
  });
}

describe('MemorySharedCounter', () => {
  behavesAsASharedCounter(async () => {
    const c = new MemorySharedCounter();
    return [c, c];
  });

  it('keeps exactly `limit` in any window on its clock, to the ms, and sweeps idle keys', async () => {
    let t = 1_000;
    const c = new MemorySharedCounter(() => t);
    expect((await c.hit('k', 1000, 2)).allowed).toBe(true);
    t = 1_500;
    expect((await c.hit('k', 1000, 2)).allowed).toBe(true);
    t = 1_999;
    expect(await c.hit('k', 1000, 2)).toEqual({ allowed: false, count: 2, oldestMs: 1_000, retryAfterMs: 1 });
    t = 2_000;
    expect(await c.hit('k', 1000, 2)).toEqual({ allowed: true, count: 2, oldestMs: 1_500, retryAfterMs: 0 });
    // After a quiet minute, a hit on another key sweeps `k`: it starts afresh.
    t = 100_000;
    await c.hit('other', 1000, 2);
    expect(await c.hit('k', 1000, 2)).toMatchObject({ allowed: true, count: 1, oldestMs: 100_000 });
  });
});

describe('RedisSharedCounter without a reachable Redis', () => {
  it('does not wait on it: it counts in this process at once, and still limits', async () => {
    const counter = new RedisSharedCounter('redis://127.0.0.1:1');
    try {
      const started = Date.now();
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await counter.hit('k', 60_000, 2));
      expect(Date.now() - started).toBeLessThan(1000);
      expect(answers.map((h) => h.allowed)).toEqual([true, true, false]);
    } finally {
      await counter.onApplicationShutdown();
    }
  });
});

// Needs a Redis server; CI starts one and sets HOOKHUB_TEST_REDIS_URL.
const redisUrl = process.env.HOOKHUB_TEST_REDIS_URL;
(redisUrl ? describe : describe.skip)('RedisSharedCounter on Redis', () => {
  let counters: RedisSharedCounter[] = [];

  async function connected(prefix: string): Promise<RedisSharedCounter> {
    const counter = new RedisSharedCounter(redisUrl!, prefix);
    counters.push(counter);
    for (let i = 0; i < 100 && !counter.ready; i++) await sleep(20);
    expect(counter.ready).toBe(true);
    return counter;
  }

  afterEach(async () => {
    await Promise.all(counters.map((c) => c.onApplicationShutdown()));
    counters = [];
  });

  // Two clients on one prefix: two processes sharing Redis.
  behavesAsASharedCounter(async () => {
    const prefix = `hookhub-test:${randomBytes(4).toString('hex')}:`;
    return [await connected(prefix), await connected(prefix)];
  });

  it('is the counter with REDIS_URL, whatever the store', () => {
    const counter = createSharedCounter({ redisUrl }, { embedded: false } as Db);
    counters.push(counter as RedisSharedCounter);
    expect(counter).toBeInstanceOf(RedisSharedCounter);
  });
});

// Needs a Postgres server (DATABASE_URL): a database of its own, with the counters' table.
const adminUrl = process.env.DATABASE_URL;
(adminUrl ? describe : describe.skip)('PgSharedCounter on Postgres', () => {
  const name = `hookhub_test_${randomBytes(6).toString('hex')}`;
  const sources: DataSource[] = [];
  let url: string;

  async function admin(sql: string): Promise<void> {
    const client = new Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }

  /** A Db with a pool of its own, as another process would have. */
  async function db(): Promise<Db> {
    const dataSource = await new DataSource({ type: 'postgres', url, poolSize: 4 }).initialize();
    sources.push(dataSource);
    return new Db(dataSource, await StoreServer.start({ database: { url } } as AppConfig));
  }

  beforeAll(async () => {
    await admin(`CREATE DATABASE ${name}`);
    const u = new URL(adminUrl!);
    u.pathname = `/${name}`;
    url = u.toString();
    const runner = (await db()).dataSource.createQueryRunner();
    try {
      const migration = MIGRATIONS.find((m) => m.name === 'SharedCounters1764800000000');
      await new migration!().up(runner);
    } finally {
      await runner.release();
    }
  });
  afterAll(async () => {
    for (const s of sources) if (s.isInitialized) await s.destroy();
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });

  behavesAsASharedCounter(async () => [new PgSharedCounter(await db()), new PgSharedCounter(await db())]);

  it('is the counter on a Postgres server without REDIS_URL; memory on the embedded store', async () => {
    expect(createSharedCounter({}, await db())).toBeInstanceOf(PgSharedCounter);
    expect(createSharedCounter({}, { embedded: true } as Db)).toBeInstanceOf(MemorySharedCounter);
  });

  it('keeps one row per key, with the taken hits only', async () => {
    const d = await db();
    const c = new PgSharedCounter(d);
    const key = freshKey();
    for (let i = 0; i < 4; i++) await c.hit(key, 60_000, 2);
    const rows = await d.rows<{ hits: number[]; expires_at: Date }>(
      'SELECT hits, expires_at FROM shared_counters WHERE key = $1',
      [key],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].hits).toHaveLength(2);
    expect(rows[0].expires_at.getTime()).toBeGreaterThan(Date.now() + 50_000);
  });

  it('counts in this process while Postgres cannot answer, and still limits', async () => {
    const d = await db();
    await d.dataSource.destroy();
    const c = new PgSharedCounter(d);
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await c.hit('down', 60_000, 2));
    expect(answers.map((h) => h.allowed)).toEqual([true, true, false]);
  });
});
