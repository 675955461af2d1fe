import { randomBytes } from 'node:crypto';
import { MemoryRateLimitStore, RateLimiter, RedisRateLimitStore, type RateLimitStore } from './rate-limiter';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function exercise(limiter: RateLimiter, key: string) {
  const results = [];
  for (let i = 0; i < 4; i++) results.push(await limiter.consume(key, 3, 60_000));
  return results;
}

describe('RateLimiter on memory', () => {
  it('allows up to the limit, then refuses with a Retry-After within the window', async () => {
    const limiter = new RateLimiter(new MemoryRateLimitStore());
    const results = await exercise(limiter, 'k');
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(results.map((r) => r.remaining)).toEqual([2, 1, 0, 0]);
    expect(results[3].retryAfterSeconds).toBeGreaterThan(0);
    expect(results[3].retryAfterSeconds).toBeLessThanOrEqual(60);
    // Other keys have their own count.
    expect((await limiter.consume('other', 3, 60_000)).allowed).toBe(true);
  });

  it('starts a new window when the old one ends', async () => {
    const limiter = new RateLimiter(new MemoryRateLimitStore());
    expect((await limiter.consume('w', 1, 100)).allowed).toBe(true);
    expect((await limiter.consume('w', 1, 100)).allowed).toBe(false);
    await sleep(150);
    expect((await limiter.consume('w', 1, 100)).allowed).toBe(true);
  });

  it('keeps limiting in memory when the shared store fails', async () => {
    const broken: RateLimitStore = { hit: () => Promise.reject(new Error('down')), close: async () => undefined };
    const results = await exercise(new RateLimiter(broken), 'k');
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
  });

  it('does not wait on an unreachable Redis: it counts in memory at once', async () => {
    const store = new RedisRateLimitStore('redis://127.0.0.1:1');
    const limiter = new RateLimiter(store);
    try {
      const results = await exercise(limiter, 'k');
      expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    } finally {
      await limiter.onModuleDestroy();
    }
  });
});

// The shared store needs a Redis server; CI starts one and sets HOOKHUB_TEST_REDIS_URL.
const redisUrl = process.env.HOOKHUB_TEST_REDIS_URL;
(redisUrl ? describe : describe.skip)('RateLimiter on Redis', () => {
  const prefix = `hookhub-test:${randomBytes(4).toString('hex')}:`;
  let stores: RedisRateLimitStore[] = [];

  async function connected(): Promise<RedisRateLimitStore> {
    const store = new RedisRateLimitStore(redisUrl!, prefix);
    stores.push(store);
    for (let i = 0; i < 100 && !store.ready; i++) await sleep(20);
    expect(store.ready).toBe(true);
    return store;
  }

  afterEach(async () => {
    await Promise.all(stores.map((s) => s.close()));
    stores = [];
  });

  it('shares one count between instances, as separate Hookhub processes would', async () => {
    const a = new RateLimiter(await connected());
    const b = new RateLimiter(await connected());
    const results = [await a.consume('shared', 3, 60_000), await b.consume('shared', 3, 60_000), await a.consume('shared', 3, 60_000), await b.consume('shared', 3, 60_000)];
    expect(results.map((r) => r.count)).toEqual([1, 2, 3, 4]);
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(results[3].retryAfterSeconds).toBeGreaterThan(55);
  });

  it('expires the window in Redis', async () => {
    const limiter = new RateLimiter(await connected());
    expect((await limiter.consume('short', 1, 150)).allowed).toBe(true);
    expect((await limiter.consume('short', 1, 150)).allowed).toBe(false);
    await sleep(250);
    expect((await limiter.consume('short', 1, 150)).count).toBe(1);
  });
});
