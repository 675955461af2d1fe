import { randomBytes } from 'node:crypto';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { MemoryThrottlerStorage, RedisThrottlerStorage, createThrottlerStorage } from './throttler-storage';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Four hits on `key` against a limit of 3 in a minute. */
async function fourHits(storage: ThrottlerStorage, key = 'k', name = 'default') {
  const results = [];
  for (let i = 0; i < 4; i++) results.push(await storage.increment(key, 60_000, 3, 60_000, name));
  return results;
}

/** What every rate-limit store must do, in memory as in Redis. */
function behavesAsAThrottlerStorage(make: () => Promise<ThrottlerStorage>): void {
  it('counts up to the limit, then blocks with the seconds left (Retry-After)', async () => {
    const storage = await make();
    const results = await fourHits(storage);
    expect(results.map((r) => [r.totalHits, r.isBlocked])).toEqual([
      [1, false],
      [2, false],
      [3, false],
      [4, true],
    ]);
    expect(results[0].timeToExpire).toBeGreaterThan(55);
    expect(results[0].timeToBlockExpire).toBe(0);
    expect(results[3].timeToBlockExpire).toBeGreaterThan(55);
    expect(results[3].timeToBlockExpire).toBeLessThanOrEqual(60);
    // Refused hits are not counted.
    expect(await storage.increment('k', 60_000, 3, 60_000, 'default')).toMatchObject({ totalHits: 4, isBlocked: true });
  });

  it('keeps a count per key and per throttler name', async () => {
    const storage = await make();
    await fourHits(storage, 'k');
    expect((await storage.increment('other', 60_000, 3, 60_000, 'default')).isBlocked).toBe(false);
    expect((await storage.increment('k', 60_000, 3, 60_000, 'login')).totalHits).toBe(1);
  });

  it('opens a new window when the old one ends', async () => {
    const storage = await make();
    expect((await storage.increment('w', 150, 1, 150, 'default')).isBlocked).toBe(false);
    expect((await storage.increment('w', 150, 1, 150, 'default')).isBlocked).toBe(true);
    await sleep(250);
    expect(await storage.increment('w', 150, 1, 150, 'default')).toMatchObject({ totalHits: 1, isBlocked: false });
  });

  it('blocks for blockDuration, past the end of the window', async () => {
    const storage = await make();
    await storage.increment('b', 100, 1, 400, 'default');
    expect((await storage.increment('b', 100, 1, 400, 'default')).isBlocked).toBe(true);
    await sleep(200);
    expect((await storage.increment('b', 100, 1, 400, 'default')).isBlocked).toBe(true);
    await sleep(300);
    expect(await storage.increment('b', 100, 1, 400, 'default')).toMatchObject({ totalHits: 1, isBlocked: false });
  });

  it('blocks for the rest of the window when blockDuration is 0', async () => {
    const storage = await make();
    await storage.increment('z', 60_000, 1, 0, 'default');
    const blocked = await storage.increment('z', 60_000, 1, 0, 'default');
    expect(blocked.isBlocked).toBe(true);
    expect(blocked.timeToBlockExpire).toBe(blocked.timeToExpire);
  });
}

describe('MemoryThrottlerStorage', () => {
  behavesAsAThrottlerStorage(async () => new MemoryThrottlerStorage());

  it('is the store without REDIS_URL', () => {
    expect(createThrottlerStorage({})).toBeInstanceOf(MemoryThrottlerStorage);
  });
});

describe('RedisThrottlerStorage without a reachable Redis', () => {
  it('does not wait on it: it counts in this process at once, and still limits', async () => {
    const storage = new RedisThrottlerStorage('redis://127.0.0.1:1');
    try {
      const started = Date.now();
      const results = await fourHits(storage);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(results.map((r) => r.isBlocked)).toEqual([false, false, false, true]);
      expect(results[3].timeToBlockExpire).toBeGreaterThan(0);
    } finally {
      await storage.onModuleDestroy();
    }
  });
});

// The shared store needs a Redis server; CI starts one and sets HOOKHUB_TEST_REDIS_URL.
const redisUrl = process.env.HOOKHUB_TEST_REDIS_URL;
(redisUrl ? describe : describe.skip)('RedisThrottlerStorage on Redis', () => {
  let stores: RedisThrottlerStorage[] = [];

  /** A connected store; each test gets its own key prefix, so runs never share counts. */
  async function connected(prefix: string): Promise<RedisThrottlerStorage> {
    const store = new RedisThrottlerStorage(redisUrl!, prefix);
    stores.push(store);
    for (let i = 0; i < 100 && !store.ready; i++) await sleep(20);
    expect(store.ready).toBe(true);
    return store;
  }
  const freshPrefix = () => `hookhub-test:${randomBytes(4).toString('hex')}:`;

  afterEach(async () => {
    await Promise.all(stores.map((s) => s.onModuleDestroy()));
    stores = [];
  });

  behavesAsAThrottlerStorage(() => connected(freshPrefix()));

  it('is the store with REDIS_URL', async () => {
    const storage = createThrottlerStorage({ redisUrl });
    stores.push(storage as RedisThrottlerStorage);
    expect(storage).toBeInstanceOf(RedisThrottlerStorage);
  });

  it('shares one count between instances, as separate Hookhub processes would', async () => {
    const prefix = freshPrefix();
    const [a, b] = [await connected(prefix), await connected(prefix)];
    const results = [];
    for (const store of [a, b, a, b]) results.push(await store.increment('shared', 60_000, 3, 60_000, 'default'));
    expect(results.map((r) => r.totalHits)).toEqual([1, 2, 3, 4]);
    expect(results.map((r) => r.isBlocked)).toEqual([false, false, false, true]);
    // The block is shared too.
    expect((await a.increment('shared', 60_000, 3, 60_000, 'default')).isBlocked).toBe(true);
  });
});
