import { randomBytes } from 'node:crypto';
import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { RedisConnection } from '../throttle/redis-connection';

/** DI token of the process's one {@link SharedCounter} (chosen at boot by the store module). */
export const SHARED_COUNTER = Symbol('SHARED_COUNTER');

/** What one hit of a {@link SharedCounter} answers. */
export interface CounterHit {
  /** Whether the hit was taken: fewer than `limit` hits were in the window before it. */
  allowed: boolean;
  /** Hits in the window, this one included when taken (at most `limit`). */
  count: number;
  /** The oldest hit still in the window (ms since the epoch, on the counting store's clock). */
  oldestMs: number;
  /** When refused: ms until the oldest hit leaves the window and one may be taken again; else 0. */
  retryAfterMs: number;
}

/**
 * Sliding-window counters: `hit` takes a hit for `key` when fewer than `limit` were taken in the last `windowMs`,
 * and refuses it (without counting it) otherwise, so no window of `windowMs` ever holds more than `limit` taken
 * hits. Each implementation makes a hit one atomic operation on its store, with the store's own clock, so the
 * processes sharing it agree on the count whatever their clocks say. The state is the times of the hits in the
 * window (at most `limit` per key), which is what makes the limit exact, not an approximation.
 */
export interface SharedCounter {
  hit(key: string, windowMs: number, limit: number): Promise<CounterHit>;
}

/** Ms since the epoch with sub-millisecond precision: windows of a fraction of a ms stay meaningful. */
const preciseNow = (): number => performance.timeOrigin + performance.now();

/**
 * Counters kept in this process: the counter of the embedded store (one process), and the fallback of the
 * shared ones while their store is unreachable. Keys whose hits have all left their window are swept as
 * they are met, at most once a minute.
 */
export class MemorySharedCounter implements SharedCounter {
  private readonly windows = new Map<string, { hits: number[]; windowMs: number }>();
  private lastSweep: number;

  constructor(private readonly now: () => number = preciseNow) {
    this.lastSweep = now();
  }

  hit(key: string, windowMs: number, limit: number): Promise<CounterHit> {
    const t = this.now();
    if (t - this.lastSweep > 60_000) this.sweep(t);
    const w = this.windows.get(key) ?? { hits: [], windowMs };
    w.windowMs = windowMs;
    let expired = 0;
    while (expired < w.hits.length && w.hits[expired] <= t - windowMs) expired++;
    if (expired) w.hits.splice(0, expired);
    this.windows.set(key, w);
    if (w.hits.length >= limit) {
      const oldest = w.hits[0];
      return Promise.resolve({
        allowed: false,
        count: w.hits.length,
        oldestMs: oldest,
        retryAfterMs: oldest + windowMs - t,
      });
    }
    w.hits.push(t);
    return Promise.resolve({ allowed: true, count: w.hits.length, oldestMs: w.hits[0], retryAfterMs: 0 });
  }

  private sweep(t: number): void {
    this.lastSweep = t;
    for (const [key, w] of this.windows)
      if (!w.hits.length || w.hits[w.hits.length - 1] <= t - w.windowMs) this.windows.delete(key);
  }
}

/**
 * A counter in a store every process shares, which counts in this process while that store fails (limits then
 * hold per process, with one warning when it starts and a line when it ends) rather than failing or holding
 * up the work that asked: a delivery is still sent and a refusal still answered when the store is down.
 */
export abstract class SharedStoreCounter implements SharedCounter {
  protected abstract readonly logger: Logger;
  private readonly local = new MemorySharedCounter();
  private degraded = false;

  /** One atomic hit in the shared store; throws when the store cannot answer. */
  protected abstract hitShared(key: string, windowMs: number, limit: number): Promise<CounterHit>;

  async hit(key: string, windowMs: number, limit: number): Promise<CounterHit> {
    try {
      const answer = await this.hitShared(key, windowMs, limit);
      if (this.degraded) this.logger.log('counters are shared by every process again');
      this.degraded = false;
      return answer;
    } catch (err) {
      if (!this.degraded)
        this.logger.warn(
          `shared counter store unavailable (${(err as Error).message}); counting in this process until it is back`,
        );
      this.degraded = true;
      return this.local.hit(key, windowMs, limit);
    }
  }
}

/**
 * One hit in Redis. KEYS[1] is a sorted set of the taken hits' times (ms, µs precision, on Redis's clock);
 * ARGV is window ms, limit, and a nonce that keeps two hits in the same µs distinct. Answers
 * {taken (0/1), count, oldest ms, retry-after ms}, times as strings (a Lua number reply loses its fraction).
 */
const HIT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.3f', now - window))
local count = redis.call('ZCARD', KEYS[1])
local oldest = now
if count > 0 then oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]) end
if count >= tonumber(ARGV[2]) then
  return {0, count, string.format('%.3f', oldest), string.format('%.3f', oldest + window - now)}
end
local at = string.format('%.3f', now)
redis.call('ZADD', KEYS[1], at, at .. ':' .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(window) + 1)
return {1, count + 1, string.format('%.3f', oldest), '0'}
`;

/**
 * Counters in Redis (REDIS_URL), one atomic script per hit, on the client handling of the rate limits. While
 * Redis is not connected, or a hit fails, hits are counted in this process (see {@link SharedStoreCounter}).
 */
export class RedisSharedCounter extends SharedStoreCounter implements OnApplicationShutdown {
  protected readonly logger = new Logger('SharedCounter');
  private readonly redis: RedisConnection;

  constructor(
    url: string,
    private readonly prefix = 'hookhub:ctr:',
  ) {
    super();
    this.redis = new RedisConnection(url, this.logger);
  }

  /** Connected to Redis (hits are shared with the other processes). */
  get ready(): boolean {
    return this.redis.ready;
  }

  protected async hitShared(key: string, windowMs: number, limit: number): Promise<CounterHit> {
    if (!this.redis.ready) throw new Error('Redis is not connected');
    const reply = (await this.redis.client.eval(HIT_SCRIPT, {
      keys: [`${this.prefix}${key}`],
      arguments: [String(windowMs), String(limit), randomBytes(6).toString('hex')],
    })) as Array<number | string>;
    const [taken, count, oldest, retry] = reply.map(Number);
    return { allowed: taken === 1, count, oldestMs: oldest, retryAfterMs: Math.max(retry, 0) };
  }

  /** After the workers have drained (their last deliveries still count in Redis). */
  async onApplicationShutdown(): Promise<void> {
    await this.redis.close();
  }
}
